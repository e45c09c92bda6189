import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createRunFold,
  defaultCatalog,
  initialRunState,
  isSeenEventId,
  type RunState,
  reduceRun,
  runStateSchema,
  validateEventData,
} from '../../src/core/index.js'
import { referenceReduceRun } from './reduce-run.reference.js'
import { hostileMeta, runStep } from './support/arbitraries.js'
import { at, type DefaultEvent, deepFreeze, fold, sequence } from './support/events.js'

/** A state as a client gets it: serialized, parsed and validated, records without prototype. */
function overTheWire(state: RunState): RunState {
  return runStateSchema.parse(JSON.parse(JSON.stringify(state)))
}

/** A `stream.snapshot` or `stream.reset` carrying the state of another small run. */
const serverStep = fc
  .record({
    type: fc.constantFrom('stream.snapshot', 'stream.reset'),
    steps: fc.array(runStep, { maxLength: 8 }),
    meta: fc.option(hostileMeta, { nil: undefined }),
  })
  .map(({ type, steps, meta }) => {
    const state = overTheWire(fold(sequence(steps, 'server')))
    const data =
      type === 'stream.snapshot'
        ? { state, ...(meta !== undefined && { meta }) }
        : { state, reason: 'cursor-expired' }
    return { type, data }
  })

/**
 * Events as a reader may receive them: mostly the next id, sometimes the previous event
 * again, an id already passed (or ahead), an id that cannot be ordered; with snapshots and
 * resets among them, a reset applying whatever its id.
 */
const delivery: fc.Arbitrary<DefaultEvent[]> = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 10, arbitrary: runStep }, { weight: 1, arbitrary: serverStep }),
      fc.oneof(
        { weight: 6, arbitrary: fc.constant<'next' | 'again' | 'opaque'>('next') },
        { weight: 1, arbitrary: fc.constant<'next' | 'again' | 'opaque'>('again') },
        { weight: 1, arbitrary: fc.constant<'next' | 'again' | 'opaque'>('opaque') },
        { weight: 1, arbitrary: fc.nat(40) },
      ),
    ),
    { maxLength: 40 },
  )
  .map((steps) => {
    const events: DefaultEvent[] = []
    let next = 0
    for (const [spec, how] of steps) {
      const previous = events.at(-1)
      if (how === 'again' && previous) {
        events.push(previous)
        continue
      }
      const id = how === 'opaque' ? 'x' : String(typeof how === 'number' ? how : ++next)
      events.push({
        type: spec.type,
        stream: 'run-1',
        id,
        ts: at(events.length),
        data: spec.data,
      } as DefaultEvent)
    }
    return events
  })

/** Tells whether reduceRun ignores `event` after `state`. */
function isIgnored(state: RunState, event: DefaultEvent): boolean {
  return event.type !== 'stream.reset' && isSeenEventId(event.id, state.lastEventId)
}

describe('createRunFold, for any delivery of events', () => {
  it('folds to the state events.reduce(reduceRun) reaches, whenever its state is read', () => {
    fc.assert(
      fc.property(delivery, fc.array(fc.boolean(), { maxLength: 40 }), (events, reads) => {
        const runFold = createRunFold()
        events.forEach((event, i) => {
          runFold.apply(event)
          if (reads[i]) expect(runFold.state).toEqual(fold(events.slice(0, i + 1)))
        })
        expect(runFold.state).toEqual(fold(events))
      }),
      { numRuns: 400 },
    )
  })

  it('agrees with the copying reducer it replaced, snapshots, resets, duplicates and deletes included', () => {
    fc.assert(
      fc.property(delivery, (events) => {
        const runFold = createRunFold()
        for (const event of events) runFold.apply(event)
        expect(runFold.state).toEqual(events.reduce(referenceReduceRun, initialRunState))
        expect(fold(events)).toEqual(events.reduce(referenceReduceRun, initialRunState))
      }),
      { numRuns: 400 },
    )
  })

  it('returns the same state until an event changes it, and never changes a state it returned', () => {
    fc.assert(
      fc.property(delivery, (events) => {
        const runFold = createRunFold()
        expect(runFold.state).toBe(initialRunState)
        const returned: [RunState, RunState][] = []
        for (const event of events) {
          const before = runFold.state
          expect(runFold.state).toBe(before)
          // Frozen: a later event that wrote into it would throw.
          returned.push([deepFreeze(before), structuredClone(before)])
          runFold.apply(event)
          if (isIgnored(before, event)) expect(runFold.state).toBe(before)
          else expect(runFold.state).not.toBe(before)
        }
        for (const [state, copy] of returned) expect(state).toEqual(copy)
      }),
      { numRuns: 300 },
    )
  })

  it('starts from any state without modifying it, and continues as folding everything would', () => {
    const split = delivery.chain((events) => fc.tuple(fc.constant(events), fc.nat(events.length)))
    fc.assert(
      fc.property(split, ([events, k]) => {
        const start = deepFreeze(fold(events.slice(0, k)))
        const copy = structuredClone(start)
        const runFold = createRunFold(start)
        expect(runFold.state).toBe(start)
        for (const event of events.slice(k)) runFold.apply(event)
        expect(runFold.state).toEqual(fold(events))
        expect(start).toEqual(copy)
      }),
      { numRuns: 300 },
    )
  })
})

/** The ids an event names, by collection. */
function idsOf(event: DefaultEvent): { tasks: string[]; agents: string[]; nodes: string[] } {
  const data = event.data as { taskId?: string; role?: string; nodeId?: string; nodes?: { nodeId: string }[] }
  return {
    tasks: event.type.startsWith('task.') && data.taskId !== undefined ? [data.taskId] : [],
    agents: data.role !== undefined ? [data.role] : [],
    nodes: [...(data.nodeId !== undefined ? [data.nodeId] : []), ...(data.nodes ?? []).map((n) => n.nodeId)],
  }
}

/** Checks that orders and records hold the same ids, once each, every entry under its own id. */
function expectConsistent(state: RunState): void {
  expect(new Set(state.agentOrder).size).toBe(state.agentOrder.length)
  expect(Object.keys(state.agents).sort()).toEqual([...state.agentOrder].sort())
  for (const role of state.agentOrder) expect(state.agents[role]?.role).toBe(role)
  expect(new Set(state.nodeOrder).size).toBe(state.nodeOrder.length)
  expect(Object.keys(state.nodes).sort()).toEqual([...state.nodeOrder].sort())
  for (const id of state.nodeOrder) expect(state.nodes[id]?.id).toBe(id)
  expect(new Set(state.tasks.map((task) => task.id)).size).toBe(state.tasks.length)
}

describe('ids named like Object members (__proto__, constructor, toString ...)', () => {
  const run = fc.array(runStep, { minLength: 1, maxLength: 40 }).map((steps) => sequence(steps))

  it('keep every id in its order and every entry under its id, in the fold and in reduceRun', () => {
    fc.assert(
      fc.property(run, (events) => {
        const runFold = createRunFold()
        let reduced = initialRunState
        for (const event of events) {
          runFold.apply(event)
          reduced = reduceRun(reduced, event)
          for (const state of [runFold.state, reduced]) {
            expectConsistent(state)
            const { tasks, agents, nodes } = idsOf(event)
            for (const id of tasks) {
              const task = state.tasks.find((t) => t.id === id)
              if (event.type === 'task.deleted') expect(task).toBeUndefined()
              else expect(task?.id).toBe(id)
              const meta = (event.data as { meta?: Record<string, unknown> }).meta ?? {}
              for (const key of Object.keys(meta)) {
                expect(task && Object.hasOwn(task.meta, key)).toBe(true)
                expect(task?.meta[key]).toEqual(meta[key])
              }
            }
            for (const role of agents)
              expect(Object.hasOwn(state.agents, role) && state.agentOrder.includes(role)).toBe(true)
            for (const id of nodes)
              expect(Object.hasOwn(state.nodes, id) && state.nodeOrder.includes(id)).toBe(true)
          }
        }
      }),
      { numRuns: 400 },
    )
  })

  it('survive the wire: JSON, runStateSchema or the stream.snapshot schema, then a snapshot folded in', () => {
    fc.assert(
      fc.property(run, hostileMeta, (events, meta) => {
        const server = fold(events)
        const json = JSON.parse(JSON.stringify({ ...server, meta })) as unknown
        const expected = { ...server, meta, lastEventId: '100' }
        const parsed = runStateSchema.parse(json)
        const validated = validateEventData(defaultCatalog, 'stream.snapshot', { state: json })
        if (!validated.ok) throw validated.error
        for (const state of [parsed, validated.value.state]) {
          const snapshot = {
            type: 'stream.snapshot',
            stream: 'run-1',
            id: '100',
            ts: at(100),
            data: { state },
          }
          const client = reduceRun(initialRunState, snapshot as DefaultEvent)
          expect(client).toEqual(expected)
          expectConsistent(client)
          const runFold = createRunFold()
          runFold.apply(snapshot as DefaultEvent)
          expect(runFold.state).toEqual(expected)
        }
      }),
      { numRuns: 300 },
    )
  })
})
