import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  decodeEvent,
  defaultCatalog,
  defineCatalog,
  type Envelope,
  encodeEvent,
  isTaskwireError,
  TaskwireValidationError,
  validateEventData,
} from '../../src/core/index.js'
import { readText } from './support/sse.js'

const ts = '2026-11-21T10:00:00.000Z'
const ok: Envelope = {
  type: 'task.status',
  stream: 'job-7',
  id: '3',
  ts,
  data: { taskId: 't1', status: 'completed' },
}

function failure(result: ReturnType<typeof decodeEvent>): TaskwireValidationError {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`)
  expect(result.error).toBeInstanceOf(TaskwireValidationError)
  expect(isTaskwireError(result.error)).toBe(true)
  return result.error
}

describe('decodeEvent', () => {
  it('returns the typed envelope of a frame read off the wire', () => {
    const [message] = readText(encodeEvent(ok)).events
    const result = decodeEvent(message ?? { data: '' }, defaultCatalog)
    expect(result).toEqual({ ok: true, value: ok })
  })

  it('accepts data-only frames and frames named "message", reading the type from the envelope', () => {
    expect(decodeEvent({ data: JSON.stringify(ok) }, defaultCatalog).ok).toBe(true)
    expect(decodeEvent({ data: JSON.stringify(ok), event: 'message' }, defaultCatalog).ok).toBe(true)
  })

  it('drops payload fields the schema does not know', () => {
    const extra = { ...ok, data: { taskId: 't1', status: 'completed', secret: 'x' }, extra: true }
    const result = decodeEvent({ data: JSON.stringify(extra) }, defaultCatalog)
    expect(result).toEqual({ ok: true, value: ok })
  })

  it('rejects data that is not JSON as invalid-frame, keeping the parse error as cause', () => {
    const error = failure(decodeEvent({ data: '{"type":' }, defaultCatalog))
    expect(error.code).toBe('invalid-frame')
    expect(error.issues).toEqual([expect.objectContaining({ path: 'data', code: 'invalid-frame' })])
    expect(error.cause).toBeInstanceOf(SyntaxError)
  })

  it.each([
    ['an array', '[]'],
    ['a string', '"task.status"'],
    ['null', 'null'],
    ['an object without type', JSON.stringify({ stream: 's', id: '1', ts, data: {} })],
    ['an object with an empty type', JSON.stringify({ ...ok, type: '' })],
    ['an object with a numeric id', JSON.stringify({ ...ok, id: 3 })],
    ['an object without stream', JSON.stringify({ type: 'task.status', id: '1', ts, data: {} })],
  ])('rejects %s as not an envelope (invalid-frame)', (_name, data) => {
    const error = failure(decodeEvent({ data }, defaultCatalog))
    expect(error.code).toBe('invalid-frame')
    expect(error.issues.length).toBeGreaterThan(0)
  })

  it('names each missing envelope field in the issues', () => {
    const error = failure(decodeEvent({ data: '{}' }, defaultCatalog))
    expect(error.issues.map((i) => i.path).sort()).toEqual(['data', 'id', 'stream', 'ts', 'type'])
  })

  it('rejects a frame whose event name disagrees with its envelope type (invalid-frame)', () => {
    const error = failure(decodeEvent({ data: JSON.stringify(ok), event: 'task.deleted' }, defaultCatalog))
    expect(error.code).toBe('invalid-frame')
    expect(error.issues[0]?.path).toBe('type')
    expect(error.message).toContain('task.deleted')
  })

  it('rejects an unknown type by default (unknown-event-type)', () => {
    const unknown = { ...ok, type: 'deploy.promoted', data: { env: 'prod' } }
    const error = failure(decodeEvent({ data: JSON.stringify(unknown) }, defaultCatalog))
    expect(error.code).toBe('unknown-event-type')
    expect(error.issues[0]?.path).toBe('type')
    const explicit = failure(
      decodeEvent({ data: JSON.stringify(unknown) }, defaultCatalog, { unknown: 'reject' }),
    )
    expect(explicit.code).toBe('unknown-event-type')
  })

  it('passes an unknown type through unchecked under the passthrough policy', () => {
    const unknown = { ...ok, type: 'deploy.promoted', data: { env: 'prod', anything: [1] } }
    const result = decodeEvent({ data: JSON.stringify(unknown), event: 'deploy.promoted' }, defaultCatalog, {
      unknown: 'passthrough',
    })
    expect(result).toEqual({ ok: true, value: unknown })
  })

  it('still validates known types under the passthrough policy', () => {
    const bad = { ...ok, data: { status: 'done' } }
    const error = failure(
      decodeEvent({ data: JSON.stringify(bad) }, defaultCatalog, { unknown: 'passthrough' }),
    )
    expect(error.code).toBe('invalid-event')
  })

  it('reports each invalid payload field with a data.* path (invalid-event)', () => {
    const bad = { ...ok, data: { status: 'done', percent: 150 } }
    const error = failure(decodeEvent({ data: JSON.stringify(bad) }, defaultCatalog))
    expect(error.code).toBe('invalid-event')
    expect(error.issues.map((i) => i.path).sort()).toEqual(['data.percent', 'data.status', 'data.taskId'])
    expect(error.message).toContain('data.taskId')
  })

  it('reports nested paths such as data.error.message and data.nodes.0.nodeId', () => {
    const failed = { ...ok, type: 'node.failed', data: { nodeId: 'n', error: {} } }
    expect(failure(decodeEvent({ data: JSON.stringify(failed) }, defaultCatalog)).issues[0]?.path).toBe(
      'data.error.message',
    )
    const started = { ...ok, type: 'run.started', data: { nodes: [{ name: 'x' }] } }
    expect(failure(decodeEvent({ data: JSON.stringify(started) }, defaultCatalog)).issues[0]?.path).toBe(
      'data.nodes.0.nodeId',
    )
  })

  it('validates against a custom catalog', () => {
    const catalog = defineCatalog({ 'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }) })
    const good = { ...ok, type: 'deploy.promoted', data: { env: 'prod' } }
    expect(decodeEvent({ data: JSON.stringify(good) }, catalog)).toEqual({ ok: true, value: good })
    const error = failure(decodeEvent({ data: JSON.stringify(ok) }, catalog))
    expect(error.code).toBe('unknown-event-type')
  })
})

describe('validateEventData', () => {
  it('returns the parsed payload of a valid event', () => {
    expect(validateEventData(defaultCatalog, 'agent.completed', { role: 'qa', durationMs: 5 })).toEqual({
      ok: true,
      value: { role: 'qa', durationMs: 5 },
    })
  })

  it('prefixes issue paths as asked, for a webhook body that is the payload itself', () => {
    const result = validateEventData(defaultCatalog, 'task.status', { status: 'x' }, '')
    expect(result.ok).toBe(false)
    expect(!result.ok && result.error.issues.map((i) => i.path).sort()).toEqual(['status', 'taskId'])
  })

  it('does not treat Object.prototype keys as event types', () => {
    const result = validateEventData(defaultCatalog, 'constructor', {})
    expect(!result.ok && result.error.code).toBe('unknown-event-type')
  })
})
