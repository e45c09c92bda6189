import { createRunFold, initialRunState, type RunState } from '../core/index.js'
import type { StreamHandleBase } from './stream-handle.js'

/** A run state kept up to date from a stream, as a store views can subscribe to. */
export interface RunStore {
  /**
   * The run state folded from every event the stream delivered since the store was created;
   * the same object until an event changes it.
   *
   * @returns the state
   */
  getState(): RunState
  /**
   * Calls `listener` after events changed the state (once per received chunk). Subscribing
   * opens the stream like any subscriber of the handle.
   *
   * @param listener - called without arguments; read `getState()`
   * @returns a function that removes the listener
   */
  subscribe(listener: () => void): () => void
  /** The initial state, for server rendering, where nothing connects. */
  readonly initialState: RunState
}

/**
 * Folds a stream's events into a run state (tasks, agents, nodes), the same way the server
 * folds them for its snapshots. The fold costs the same per event however large the run
 * grows. Apps that only read events (an LLM's tokens, a log) do not need it, and do not ship
 * it unless they import it.
 *
 * Give each store its own handle, created for it: the store folds what the handle delivers
 * while it is open, and the handle resumes after the last event it delivered.
 *
 * @param handle - the stream, from `connect()`
 * @param initial - the state before the first event
 * @returns the store
 * @example
 * ```ts
 * import { connect, createRunStore } from 'taskwire/client'
 *
 * const run = createRunStore(connect('https://example.com/api/runs/42/events'))
 * const stop = run.subscribe(() => render(run.getState()))
 * ```
 */
export function createRunStore(handle: StreamHandleBase, initial: RunState = initialRunState): RunStore {
  const fold = createRunFold(initial)
  handle.tap((event) => fold.apply(event))
  return {
    getState: () => fold.state,
    subscribe(listener) {
      let seen = fold.state
      return handle.subscribe(() => {
        // The handle notifies once per chunk, after every event of it was folded.
        if (fold.state === seen) return
        seen = fold.state
        listener()
      })
    },
    initialState: initial,
  }
}
