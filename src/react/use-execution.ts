import { useMemo, useState, useSyncExternalStore } from 'react'
import type { ConnectOptions } from '../client/index.js'
import type { Catalog, DefaultCatalog } from '../core/index.js'
import { createExecutionStore, type ExecutionSnapshot, type UseExecutionOptions } from './execution.js'
import { useLatest } from './use-latest.js'

/** What {@link useExecution} returns: the run of the last `start()`, and the two actions. */
export interface UseExecutionResult extends ExecutionSnapshot {
  /**
   * Starts one run: a request to `url` with a new `Idempotency-Key`, whose response is the
   * run's stream. Call it from an event handler (a click), not while rendering nor from an
   * effect, which StrictMode runs twice. Reconnects resend the same key, so the server
   * attaches them to the same run. A second call starts another run and watches it instead.
   *
   * @param body - the request body; the `body` option when absent
   */
  readonly start: (body?: ConnectOptions['body']) => void
  /**
   * Cancels the run of the last `start()`. With `cancelUrl`, sends a DELETE there (once the
   * execution id is known) and keeps the stream, which ends with the run's `run.cancelled`;
   * without it, closes the stream, and the run goes on on the server.
   *
   * @returns resolves once the DELETE was answered 2xx or 404 (nothing running there)
   * @throws {@link taskwire!TaskwireHttpError} for another status, and
   *   {@link taskwire!TaskwireError} `network` when the DELETE could not be sent: the run
   *   goes on, and so does the stream
   */
  readonly cancel: () => Promise<void>
}

/**
 * Starts runs with a POST whose response is the run's stream (an agent team's run, a flow
 * execution), and follows the last one: its folded state, connection status and execution
 * id. Exactly one run per `start()` call, under StrictMode too: nothing is sent while
 * rendering or mounting, and the key generated for each call (sent as `Idempotency-Key`,
 * again on every reconnect) lets the server's `startExecution` run it once. Options are read
 * when `start()` or `cancel()` is called, so they may change between renders freely.
 *
 * @param options - `url`, `headers`, `body`, `cancelUrl`, and the options of `connect()`
 * @returns the snapshot of the last run (`state`, `status`, `error`, `resync`,
 *   `executionId`), `start` and `cancel`
 * @example
 * ```tsx
 * import { useExecution } from 'taskwire/react'
 *
 * function Execute() {
 *   const { start, cancel, state, status } = useExecution({
 *     url: '/api/agents/execute/stream',
 *     headers: { 'content-type': 'application/json' },
 *     cancelUrl: (id) => `/api/executions/${id}`,
 *   })
 *   return (
 *     <>
 *       <button type="button" onClick={() => start(JSON.stringify({ task: 'Add a dark mode toggle' }))}>Run</button>
 *       <button type="button" onClick={() => void cancel()}>Cancel</button>
 *       <p>{status}: {state.status}</p>
 *     </>
 *   )
 * }
 * ```
 */
export function useExecution<C extends Catalog = DefaultCatalog>(
  options: UseExecutionOptions<C>,
): UseExecutionResult {
  const latest = useLatest(options as UseExecutionOptions<Catalog>)
  const [store] = useState(() => createExecutionStore(latest))
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot)
  return useMemo(() => ({ ...snapshot, start: store.start, cancel: store.cancel }), [snapshot, store])
}
