import type { RunFold } from './run-fold.js'
import { isIgnoredEvent, openRunFold, type ReducibleEvent } from './run-fold.js'
import type { RunState } from './run-state.js'

export type { ReducibleEvent } from './run-fold.js'

/**
 * Folds one event into a run state. Pure: returns a new state and never mutates its input.
 * An event whose id is not after `state.lastEventId` changes nothing (the same state is
 * returned), so replays and duplicates are harmless; `stream.reset` is the exception and
 * always replaces the state. Types the reducer does not know only advance `lastEventId`.
 * Servers build snapshots with the same rules and clients keep their state with it, so both
 * agree.
 *
 * Each call copies the collections the event changes, so it costs O(size of the state). To
 * fold every event of a long run in one place (a server keeping a stream's state), use
 * {@link createRunFold}, which applies the same rules in place at a cost per event that does
 * not grow with the state.
 *
 * @param state - the state so far ({@link initialRunState} to start)
 * @param event - the next event
 * @returns the state after the event
 * @example
 * ```ts
 * const state = events.reduce(reduceRun, initialRunState)
 * state.nodes['fetch']?.status // 'completed'
 * ```
 */
export function reduceRun(state: RunState, event: ReducibleEvent): RunState {
  if (isIgnoredEvent(event, state.lastEventId)) return state
  // The rules live in one place, the fold; this one applies a single event and discards it.
  const fold: RunFold = openRunFold(state, false)
  fold.apply(event)
  return fold.state
}
