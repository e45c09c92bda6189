import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeEvent,
  defaultCatalog,
  type Envelope,
  encodeEvent,
  initialRunState,
  type RunState,
  reduceRun,
} from '../../src/core/index.js'
import { runStep } from './support/arbitraries.js'
import { type DefaultEvent, deepFreeze, fold, sequence } from './support/events.js'
import { readText } from './support/sse.js'

/** A run as a hub numbers it: ids 1, 2, 3 ... one second apart. */
const run = fc.array(runStep, { minLength: 1, maxLength: 40 }).map((steps) => sequence(steps))

/**
 * The same run delivered with re-deliveries: after event k, any event 0..k may arrive again
 * (k itself: the same id applied twice; earlier ones: a replay of older ids).
 */
const runWithReplays = run.chain((events) =>
  fc
    .array(fc.tuple(fc.nat(events.length - 1), fc.nat()), { maxLength: 30 })
    .map((replays): [DefaultEvent[], DefaultEvent[]] => {
      const delivered: DefaultEvent[] = []
      events.forEach((event, k) => {
        delivered.push(event)
        for (const [after, pick] of replays)
          if (after === k) delivered.push(events[pick % (k + 1)] as DefaultEvent)
      })
      return [events, delivered]
    }),
)

/** Sends a state across the wire as a hub does: a stream.snapshot frame, read and validated. */
function snapshotOverTheWire(state: RunState, ts: string): DefaultEvent {
  const snapshot: Envelope = {
    type: 'stream.snapshot',
    stream: state.stream ?? '',
    id: state.lastEventId ?? '',
    ts,
    data: { state },
  }
  const [message] = readText(encodeEvent(snapshot)).events
  const decoded = decodeEvent(message ?? { data: '' }, defaultCatalog)
  if (!decoded.ok) throw decoded.error
  return decoded.value
}

describe('reduceRun, for any sequence of events', () => {
  it('ignores duplicates: the same id applied twice, or a replay of older ids, changes nothing', () => {
    fc.assert(
      fc.property(runWithReplays, ([events, delivered]) => {
        expect(fold(delivered)).toEqual(fold(events))
      }),
      { numRuns: 300 },
    )
  })

  it('never mutates its input: folding over deep-frozen states and events gives the same result', () => {
    fc.assert(
      fc.property(run, (events) => {
        let state: RunState = deepFreeze(structuredClone(initialRunState))
        for (const event of events) {
          const before = structuredClone(state)
          const next = reduceRun(state, deepFreeze(structuredClone(event)))
          expect(state).toEqual(before)
          state = deepFreeze(next)
        }
        expect(state).toEqual(fold(events))
      }),
      { numRuns: 200 },
    )
  })

  it('folds a prefix then the suffix to the same state as the whole sequence', () => {
    const split = run.chain((events) => fc.tuple(fc.constant(events), fc.nat(events.length)))
    fc.assert(
      fc.property(split, ([events, k]) => {
        expect(fold(events.slice(k), fold(events.slice(0, k)))).toEqual(fold(events))
      }),
      { numRuns: 300 },
    )
  })

  it('agrees with the server: a snapshot of the state after k events, then the rest, equals folding all', () => {
    const split = run.chain((events) =>
      fc
        .tuple(fc.constant(events), fc.integer({ min: 1, max: events.length }))
        .chain(([all, k]) => fc.tuple(fc.constant(all), fc.constant(k), fc.nat(k))),
    )
    fc.assert(
      fc.property(split, ([events, k, seen]) => {
        const server = fold(events.slice(0, k))
        const snapshot = snapshotOverTheWire(server, events[k - 1]?.ts ?? '')
        // A client that joins fresh, and one that had already folded `seen` of those k events.
        for (const client of [initialRunState, fold(events.slice(0, seen))]) {
          expect(fold(events.slice(k), reduceRun(client, snapshot))).toEqual(fold(events))
        }
      }),
      { numRuns: 300 },
    )
  })
})
