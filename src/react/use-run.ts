import { useCallback, useMemo } from 'react'
import type { ConnectionStatus, ConnectOptions, Resync, RunSnapshot, RunSource } from '../client/index.js'
import type { Catalog, DefaultCatalog, RunState, TaskwireError } from '../core/index.js'
import { useRunSlice } from './use-run-slice.js'

/** Options of {@link useRun}: `select`, `isEqual`, and for a URL the options of `connect()`. */
export interface UseRunOptions<C extends Catalog = DefaultCatalog, S = RunState> extends ConnectOptions<C> {
  /**
   * Picks the part of the run state the component renders: it re-renders only when that
   * part changes (by `isEqual`), not on every event. The fold keeps unchanged tasks, agents
   * and nodes as the same objects, so `(state) => state.agents.planner` is stable until the
   * planner changes.
   * @defaultValue the whole state
   */
  select?: ((state: RunState) => S) | undefined
  /**
   * Tells whether two selected values render the same; pass a shallow comparison for a
   * selector that builds a new array or object each time.
   * @defaultValue `Object.is`
   */
  isEqual?: ((a: S, b: S) => boolean) | undefined
}

/** What {@link useRun} returns. */
export interface UseRunResult<S = RunState> {
  /** The run state, or the part `select` picked. */
  readonly state: S
  /** The connection status: `idle` until mounted and on the server, then `connecting`, `open` ... */
  readonly status: ConnectionStatus
  /** Why the connection is not open, if it is not. */
  readonly error: TaskwireError | null
  /** How the last opened connection continued the stream (`fresh`, `replayed`, `reset` ...). */
  readonly resync: Resync | null
  /** Reconnects now (a "Refresh" button), resuming after the last event. */
  readonly reconnect: () => void
}

type Picked<S> = Omit<UseRunResult<S>, 'reconnect'>

/**
 * The live state of a run, folded from its stream's events. Every component that uses the
 * same URL and equal options shares one connection and one fold (reference-counted: the
 * connection opens with the first mounted component and closes `lingerMs` after the last
 * one unmounts). Options compare by value for primitives, plain objects and arrays, by
 * identity for functions and other objects: define those outside the component or memoize
 * them, or each render opens a new connection. Nothing connects while rendering, nor ever
 * on the server, where the result is the initial state with status `idle`.
 *
 * @param source - the stream's URL, a handle from `connect()`, or null for none (status
 *   `idle`, the initial state)
 * @param options - `select`, `isEqual`, and the options of `connect()` (for a URL)
 * @returns the state (or its selected part), the connection status, error and resync, and
 *   `reconnect`
 * @example
 * ```tsx
 * import { useRun } from 'taskwire/react'
 *
 * function Progress({ runId }: { runId: string }) {
 *   const { state: tasks, status } = useRun(`/api/runs/${runId}/events`, { select: (s) => s.tasks })
 *   return <p>{status}: {tasks.filter((t) => t.status === 'completed').length}/{tasks.length}</p>
 * }
 * ```
 */
export function useRun<C extends Catalog = DefaultCatalog, S = RunState>(
  source: RunSource<C> | null | undefined,
  options: UseRunOptions<C, S> = {},
): UseRunResult<S> {
  const { select, isEqual, ...connectOptions } = options
  const pick = useCallback(
    (snapshot: RunSnapshot): Picked<S> => ({
      state: select ? select(snapshot.state) : (snapshot.state as S),
      status: snapshot.status,
      error: snapshot.error,
      resync: snapshot.resync,
    }),
    [select],
  )
  const same = useCallback(
    (a: Picked<S>, b: Picked<S>): boolean =>
      (isEqual ?? Object.is)(a.state, b.state) &&
      a.status === b.status &&
      a.error === b.error &&
      a.resync === b.resync,
    [isEqual],
  )
  const { value, reconnect } = useRunSlice(source, connectOptions as ConnectOptions<C>, pick, same)
  return useMemo(() => ({ ...value, reconnect }), [value, reconnect])
}
