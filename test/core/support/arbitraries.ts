import fc from 'fast-check'
import type { Envelope, EventFields } from '../../../src/core/index.js'
import type { DefaultType } from './events.js'

/** Characters that stress an SSE writer: line breaks, field-like text, BOM, NUL, multibyte. */
const tricky = fc.constantFrom(
  '\n',
  '\r',
  '\r\n',
  ' ',
  '  ',
  ':',
  ': ',
  'data:',
  'id:',
  '\0',
  '\uFEFF',
  '😀',
  '中',
  'é',
  '\t',
)
const printable = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })

/** Any well-formed text, line breaks included. */
export const anyText = fc.string({ unit: fc.oneof(tricky, printable), maxLength: 24 })

/** Text without CR or LF (comments). */
export const lineText = anyText.map((s) => s.replace(/[\r\n]/g, ''))

/** Text without CR, LF or NUL (ids and event names). */
export const fieldText = lineText.map((s) => s.replace(/\0/g, ''))

/** Valid arguments of `formatEvent`; an event name is never empty (that reads back as `message`). */
export const eventFields: fc.Arbitrary<EventFields> = fc.record(
  {
    id: fieldText,
    event: fieldText.filter((s) => s !== ''),
    data: anyText,
    retry: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    comment: lineText,
  },
  { requiredKeys: [] },
)

/** Cut positions inside a sequence of `length` items, sorted and unique. */
export function cutsWithin(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([])
  return fc
    .uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(12, length - 1) })
    .map((cuts) => cuts.sort((a, b) => a - b))
}

const nonEmpty = fc.string({ minLength: 1, maxLength: 12 })
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined })
/** JSON turns -0 into 0; generate +0 so a round trip compares equal. */
const percent = fc.double({ min: 0, max: 100, noNaN: true }).map((x) => x + 0)
const duration = fc.oneof(
  fc.nat(),
  fc.double({ min: 0, max: 1e9, noNaN: true }).map((x) => x + 0),
)
const json = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown)
const meta = fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 3 })
const errorInfo = fc.record({ message: fc.string(), code: fc.string() }, { requiredKeys: ['message'] })
const taskStatus = fc.constantFrom('pending', 'in_progress', 'completed', 'failed', 'cancelled')

/** Drops keys whose value is undefined, as a JSON round trip does. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}

/** Valid payloads of several default-catalog types, with every optional field exercised. */
export const defaultPayload: fc.Arbitrary<{ type: DefaultType; data: object }> = fc.oneof(
  fc
    .record({
      taskId: nonEmpty,
      status: taskStatus,
      title: optional(fc.string()),
      note: optional(anyText),
      percent: optional(percent),
      meta: optional(meta),
    })
    .map((data) => ({ type: 'task.status' as const, data: defined(data) })),
  fc
    .record({
      role: nonEmpty,
      taskId: optional(fc.string()),
      durationMs: optional(duration),
      hasArtifacts: optional(fc.boolean()),
    })
    .map((data) => ({ type: 'agent.completed' as const, data: defined(data) })),
  fc
    .record({ role: nonEmpty, durationMs: optional(duration), error: errorInfo })
    .map((data) => ({ type: 'agent.failed' as const, data: defined(data) })),
  fc
    .record({
      nodeId: nonEmpty,
      name: optional(fc.string()),
      message: optional(anyText),
      output: optional(json),
      durationMs: optional(duration),
    })
    .map((data) => ({ type: 'node.completed' as const, data: defined(data) })),
  fc
    .record({ nodeId: nonEmpty, message: optional(fc.string()), output: optional(json), error: errorInfo })
    .map((data) => ({ type: 'node.failed' as const, data: defined(data) })),
  fc
    .record({
      executionId: optional(fc.oneof(fc.string(), fc.integer())),
      workflowId: optional(fc.oneof(fc.string(), fc.integer())),
      mode: optional(fc.string()),
      nodes: optional(
        fc.array(fc.record({ nodeId: nonEmpty, name: fc.string() }, { requiredKeys: ['nodeId'] }), {
          maxLength: 4,
        }),
      ),
    })
    .map((data) => ({ type: 'run.started' as const, data: defined(data) })),
  fc
    .record({ taskId: fc.string(), error: errorInfo }, { requiredKeys: ['error'] })
    .map((data) => ({ type: 'task.failed' as const, data })),
  fc
    .record({ reason: fc.string() }, { requiredKeys: [] })
    .map((data) => ({ type: 'run.cancelled' as const, data })),
)

/** A valid envelope of the default catalog, as a hub would store it. */
export const defaultEnvelope: fc.Arbitrary<Envelope> = fc
  .record({
    payload: defaultPayload,
    stream: anyText,
    id: fc.bigInt({ min: 1n, max: 10n ** 20n }).map(String),
    ts: fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2100-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString()),
  })
  .map(({ payload, stream, id, ts }) => ({ type: payload.type, stream, id, ts, data: payload.data }))

/**
 * Keys that a record with `Object.prototype` mistakes for entries of its own (`__proto__`
 * even replaces the prototype when assigned): ids and meta keys must behave like any other.
 */
export const hostileKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'prototype',
)

/** An id drawn mostly from a small pool (so events collide), often hostile, sometimes random. */
function idFrom(...pool: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...pool) },
    { weight: 2, arbitrary: hostileKey },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 3 }) },
  )
}

const taskId = idFrom('t1', 't2', 't3')
const role = idFrom('lead', 'qa')
const nodeId = idFrom('n1', 'n2', 'n3')

/**
 * A meta record with hostile keys, as `JSON.parse` builds it: a plain prototype and an own
 * `__proto__` key when there is one.
 */
export const hostileMeta: fc.Arbitrary<Record<string, unknown>> = fc
  .dictionary(idFrom('a', 'b'), fc.constantFrom<unknown>(1, 'x', null, { nested: true }), { maxKeys: 3 })
  .map((record) => JSON.parse(JSON.stringify(record)) as Record<string, unknown>)
const smallError = fc.record({ message: fc.constantFrom('boom', 'rate limit') })
const smallOutput = optional(fc.constantFrom<unknown>({ ok: true }, [1, 2], 'text', 7))

/**
 * One step of a run, drawn from small pools of task ids, roles and node ids so events collide
 * on the same entities, with ids and meta keys named like `Object` members; includes a type
 * the reducer does not know.
 */
export const runStep: fc.Arbitrary<{ type: string; data: object }> = fc.oneof(
  fc
    .record({ taskId, title: optional(fc.constantFrom('A', 'B')), meta: optional(hostileMeta) })
    .map((d) => ({ type: 'task.created', data: defined(d) })),
  fc
    .record({ taskId, note: optional(fc.constantFrom('n1', 'n2')), meta: optional(hostileMeta) })
    .map((d) => ({ type: 'task.updated', data: defined(d) })),
  fc.record({ taskId, status: taskStatus }).map((d) => ({ type: 'task.status', data: d })),
  fc
    .record({ taskId, percent: optional(fc.integer({ min: 0, max: 100 })) })
    .map((d) => ({ type: 'task.progress', data: defined(d) })),
  fc.record({ taskId }).map((d) => ({ type: 'task.completed', data: d })),
  fc
    .record({ taskId: optional(taskId), error: smallError })
    .map((d) => ({ type: 'task.failed', data: defined(d) })),
  fc.record({ taskId }).map((d) => ({ type: 'task.deleted', data: d })),
  fc
    .record({ role, name: optional(fc.constantFrom('Lead', 'QA')) })
    .map((d) => ({ type: 'agent.started', data: defined(d) })),
  fc
    .record({ role, message: fc.constantFrom('thinking', 'writing') })
    .map((d) => ({ type: 'agent.progress', data: d })),
  fc
    .record({ role, durationMs: optional(fc.nat(10_000)), hasArtifacts: optional(fc.boolean()) })
    .map((d) => ({ type: 'agent.completed', data: defined(d) })),
  fc.record({ role, error: smallError }).map((d) => ({ type: 'agent.failed', data: d })),
  fc
    .record({
      executionId: optional(fc.constantFrom('e1', 123)),
      nodes: optional(
        fc.uniqueArray(nodeId, { maxLength: 3 }).map((ids) => ids.map((id) => ({ nodeId: id }))),
      ),
    })
    .map((d) => ({ type: 'run.started', data: defined(d) })),
  fc.record({ nodeId }).map((d) => ({ type: 'node.started', data: d })),
  fc
    .record({ nodeId, percent: optional(fc.integer({ min: 0, max: 100 })) })
    .map((d) => ({ type: 'node.progress', data: defined(d) })),
  fc.record({ nodeId, output: smallOutput }).map((d) => ({ type: 'node.completed', data: defined(d) })),
  fc.record({ nodeId, error: smallError }).map((d) => ({ type: 'node.failed', data: d })),
  fc.record({ output: smallOutput }).map((d) => ({ type: 'run.completed', data: defined(d) })),
  fc.record({ error: smallError }).map((d) => ({ type: 'run.failed', data: d })),
  fc.constant({ type: 'run.cancelled', data: {} }),
  fc.constant({ type: 'custom.note', data: { anything: true } }),
)
