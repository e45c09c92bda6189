import {
  acquireRun,
  type ConnectionStatus,
  type ConnectOptions,
  type RunSnapshot,
  type StreamHandle,
} from '../client/index.js'
import type { Catalog, DefaultCatalog, RunState } from '../core/index.js'

/**
 * A live run state and its connection status, for any view layer. `subscribe` follows the
 * Svelte store contract (the listener gets the current value at once, then every change),
 * so a Svelte component reads it as `$run`, and any other code (a Vue `shallowRef`, a DOM
 * script) can feed on the same values.
 */
export interface SharedRunStore<C extends Catalog = DefaultCatalog> {
  /**
   * The run state folded from the stream's events; the same object until an event changes
   * it.
   *
   * @returns the state
   */
  getState(): RunState
  /**
   * Calls `listener` at once with the current snapshot, then after each change of the state,
   * the status, the error or the resync. The first listener opens the stream, which
   * disconnects `lingerMs` after the last one left.
   *
   * @param listener - called with `{ state, status, error, resync }`
   * @returns a function that removes the listener
   */
  subscribe(listener: (snapshot: RunSnapshot) => void): () => void
  /** The connection status: `idle`, `connecting`, `open`, `reconnecting` or `closed`. */
  readonly status: ConnectionStatus
  /** The stream handle, for `on()`, `reconnect()` and the rest; shared with other stores of the same stream. */
  readonly handle: StreamHandle<C>
  /**
   * Removes this store's listeners and gives its reference back: the connection closes
   * `lingerMs` later unless another store or component of the same stream holds it. Safe
   * to call more than once.
   */
  close(): void
}

/**
 * Opens a live run store over a stream: the events folded into a run state, with the
 * connection status. Stores (and `taskwire/react` hooks) created with the same URL and equal
 * options share one connection and one run state: primitives compare by value, plain
 * objects and arrays by their contents, functions and other objects by identity, so pass the
 * same function each time. Nothing connects until the first `subscribe`; call `close()` when
 * the view goes away.
 *
 * @param url - the stream's URL (absolute, or relative to the page in a browser)
 * @param options - the options of `connect()`: transport, headers, catalog, backoff ...
 * @returns the store
 * @throws {@link taskwire!TaskwireError} `invalid-option` as `connect()` does
 * @example
 * ```ts
 * import { createRunStore } from 'taskwire/vanilla'
 *
 * const run = createRunStore('https://example.com/api/runs/42/events')
 * const stop = run.subscribe(({ state, status }) => console.log(status, state.tasks.length))
 * // when the view goes away:
 * stop()
 * run.close()
 * ```
 */
export function createRunStore<C extends Catalog = DefaultCatalog>(
  url: string | URL,
  options: ConnectOptions<C> = {},
): SharedRunStore<C> {
  const lease = acquireRun<C>(url, options)
  const stops = new Set<() => void>()
  let closed = false
  return {
    getState: () => lease.getSnapshot().state,
    subscribe(listener) {
      let started = false
      // Subscribing first (which may move the status to `connecting` at once), then one call
      // with the value as it now is: the Svelte contract's synchronous first call.
      const stop = closed ? () => {} : lease.subscribe(() => started && listener(lease.getSnapshot()))
      started = true
      listener(lease.getSnapshot())
      if (closed) return stop
      const remove = (): void => {
        if (stops.delete(remove)) stop()
      }
      stops.add(remove)
      return remove
    },
    get status() {
      return lease.getSnapshot().status
    },
    handle: lease.handle,
    close() {
      if (closed) return
      closed = true
      for (const stop of [...stops]) stop()
      lease.release()
    },
  }
}
