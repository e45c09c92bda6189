import type { DefaultCatalog, EventData, EventOf, EventType, RunState } from '../../../src/core/index.js'
import { initialRunState, reduceRun } from '../../../src/core/index.js'

/** The default catalog's event types. */
export type DefaultType = EventType<DefaultCatalog>

/** A stored event of the default catalog. */
export type DefaultEvent = EventOf<DefaultCatalog>

export const BASE_TS = Date.parse('2026-11-21T10:00:00.000Z')

/** ISO timestamp `seconds` after {@link BASE_TS}. */
export function at(seconds: number): string {
  return new Date(BASE_TS + seconds * 1000).toISOString()
}

/**
 * Builds one envelope of the default catalog.
 *
 * @param id - the event id
 * @param type - the event type
 * @param data - its payload
 * @param ts - its timestamp (defaults to `id` seconds after the base time)
 * @param stream - its stream
 */
export function envelope<T extends DefaultType>(
  id: string,
  type: T,
  data: EventData<DefaultCatalog, T>,
  ts: string = at(Number(id)),
  stream = 'run-1',
): EventOf<DefaultCatalog, T> {
  return { type, stream, id, ts, data } as EventOf<DefaultCatalog, T>
}

/**
 * Numbers events 1, 2, 3 ... in the order given, one second apart, as a hub would.
 *
 * @param specs - each event's type and payload
 */
export function sequence(
  specs: readonly { type: string; data: unknown }[],
  stream = 'run-1',
): DefaultEvent[] {
  return specs.map(
    (spec, i) =>
      ({ type: spec.type, stream, id: String(i + 1), ts: at(i + 1), data: spec.data }) as DefaultEvent,
  )
}

/** Folds events from the initial state. */
export function fold(events: readonly DefaultEvent[], from: RunState = initialRunState): RunState {
  return events.reduce(reduceRun, from)
}

/** Freezes a value and everything reachable from it, so any write throws in strict mode. */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key])
  return Object.freeze(value)
}
