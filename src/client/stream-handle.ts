import type { Catalog, DefaultCatalog, EventOf, EventType, RunState, TaskwireError } from '../core/index.js'

/**
 * Where a stream connection is: `connecting` until the first attempt opens, `open` while
 * events can flow, `reconnecting` while waiting to try again, `closed` for good.
 */
export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'closed'

/**
 * Everything a view renders from a stream, as one immutable value. A new object is made
 * only when one of its fields changed, so `useSyncExternalStore` and memoized selectors can
 * compare by identity.
 */
export interface StreamSnapshot {
  /** The connection status. */
  readonly status: ConnectionStatus
  /** The run state folded from every event received, with core `reduceRun`. */
  readonly state: RunState
  /** The id the next attempt resumes after. */
  readonly lastEventId: string | null
  /**
   * Why the connection is not open: the last failure while `reconnecting`, the fatal one
   * once `closed`; null while open and after a normal end.
   */
  readonly error: TaskwireError | null
}

/** Counters for monitoring and tests. */
export interface ConnectionStats {
  /** Connection attempts made, the first one included. */
  attempts: number
  /** Reconnections scheduled after a drop or failure. */
  reconnects: number
  /** Events dropped because their id was already delivered. */
  duplicates: number
  /** Events skipped because they failed validation. */
  invalid: number
}

/**
 * A live stream: typed event handlers, the folded run state, the connection status, and a
 * framework-free store (`subscribe` + `getSnapshot`) that React's `useSyncExternalStore` or
 * any other view layer can wrap. Iterate it with `for await` to read events in order.
 */
export interface StreamHandle<C extends Catalog = DefaultCatalog> extends AsyncIterable<EventOf<C>> {
  /**
   * Calls `handler` for each event of a type, or for every event with `'*'`. A handler that
   * throws is reported to `onError`; the stream and the other handlers go on.
   *
   * @param type - an event type of the catalog, or `'*'`
   * @param handler - called with the typed event
   * @returns a function that removes the handler
   */
  on<T extends EventType<C> | '*'>(
    type: T,
    handler: (event: T extends EventType<C> ? EventOf<C, T> : EventOf<C>) => void,
  ): () => void
  /**
   * Calls `handler` each time the status changes.
   *
   * @param handler - called with the new status and the error that caused it, if any
   * @returns a function that removes the handler
   */
  onStatus(handler: (status: ConnectionStatus, error: TaskwireError | null) => void): () => void
  /** The connection status. */
  readonly status: ConnectionStatus
  /** The folded run state. */
  readonly state: RunState
  /** The id the next attempt resumes after. */
  readonly lastEventId: string | null
  /** Why the connection is not open, if it is not. */
  readonly error: TaskwireError | null
  /**
   * Registers a listener called after any field of the snapshot changed (once per received
   * chunk, however many events it held).
   *
   * @param listener - called without arguments; read `getSnapshot()`
   * @returns a function that removes the listener
   */
  subscribe(listener: () => void): () => void
  /**
   * The current snapshot; the same object until something changes.
   *
   * @returns the snapshot
   */
  getSnapshot(): StreamSnapshot
  /**
   * Counters of attempts, reconnects, duplicates and invalid events.
   *
   * @returns a copy of the counters
   */
  stats(): ConnectionStats
  /**
   * Drops the current connection and connects again now, resuming after `lastEventId`.
   * Does nothing once closed.
   */
  reconnect(): void
  /**
   * Closes the stream for good: no handler runs afterwards, even for the rest of the event
   * being dispatched, and no timer, listener or socket remains. Safe to call from a handler
   * and more than once.
   */
  close(): void
}
