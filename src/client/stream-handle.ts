import type { Catalog, DefaultCatalog, Envelope, EventOf, EventType, TaskwireError } from '../core/index.js'

/**
 * Where a stream connection is: `idle` while nothing watches it (before its first
 * subscriber, and after the last one left and the linger passed), `connecting` until an
 * attempt opens, `open` while events can flow, `reconnecting` while waiting to try again,
 * `closed` for good (the run ended, the server said 204, a fatal error, or `close()`).
 */
export type ConnectionStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

/**
 * How a connection continued the stream, reported once per opened connection:
 * - `fresh`: the first connection, without a cursor: the server sends what it has.
 * - `resumed`: reconnected after the cursor with nothing missed and nothing to replay.
 * - `replayed`: reconnected after the cursor; the server replayed the `events` published
 *   while the client was away, so nothing was missed.
 * - `snapshot`: the server sent its state first (`stream.snapshot`).
 * - `reset`: the cursor was too old or unknown to the server (a restart, say), or the state
 *   too large to send: the state was replaced (`stream.reset`); refetch what you keep
 *   outside the stream. `reason` says which.
 */
export type Resync =
  | {
      /** The first connection, without a cursor. */
      readonly kind: 'fresh'
    }
  | {
      /** Reconnected after the cursor; nothing was missed and nothing replayed. */
      readonly kind: 'resumed'
    }
  | {
      /** Reconnected after the cursor; the server replayed what was missed. */
      readonly kind: 'replayed'
      /** How many events the server replayed in its first write. */
      readonly events: number
    }
  | {
      /** The server sent its state first. */
      readonly kind: 'snapshot'
    }
  | {
      /** The state was replaced. */
      readonly kind: 'reset'
      /** `cursor-expired`, `cursor-unknown` or `snapshot-too-large`. */
      readonly reason: string
    }

/**
 * Everything a view renders about the connection, as one immutable value. A new object is
 * made only when one of its fields changed, so `useSyncExternalStore` and memoized
 * selectors can compare by identity.
 */
export interface StreamSnapshot {
  /** The connection status. */
  readonly status: ConnectionStatus
  /** The id the next attempt resumes after. */
  readonly lastEventId: string | null
  /**
   * Why the connection is not open: the last failure while `reconnecting`, the fatal one
   * once `closed`; null while open and after a normal end.
   */
  readonly error: TaskwireError | null
  /** How the last opened connection continued the stream; null before the first. */
  readonly resync: Resync | null
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
 * What every stream handle offers whatever its catalog: functions that take any handle
 * (a store, a logger, a test helper) accept this type without generics.
 */
export interface StreamHandleBase {
  /**
   * Calls `handler` for every event, like `on('*')`, without counting as a subscriber: it
   * sees events only while something else keeps the stream open. Stores built on a handle
   * fold with it and subscribe with `subscribe`.
   *
   * @param handler - called with each event
   * @returns a function that removes the handler
   */
  tap(handler: (event: Envelope) => void): () => void
  /**
   * Calls `handler` each time the status changes. Counts as a subscriber.
   *
   * @param handler - called with the new status and the error that caused it, if any
   * @returns a function that removes the handler
   */
  onStatus(handler: (status: ConnectionStatus, error: TaskwireError | null) => void): () => void
  /**
   * Calls `handler` once per opened connection with how it continued the stream. Counts as
   * a subscriber.
   *
   * @param handler - called with the resync
   * @returns a function that removes the handler
   */
  onResync(handler: (resync: Resync) => void): () => void
  /** The connection status. */
  readonly status: ConnectionStatus
  /** The id the next attempt resumes after. */
  readonly lastEventId: string | null
  /** Why the connection is not open, if it is not. */
  readonly error: TaskwireError | null
  /**
   * Registers a listener called after any field of the snapshot changed (once per received
   * chunk, however many events it held). Counts as a subscriber: the first one opens the
   * stream, and the stream closes `lingerMs` after the last one leaves.
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
   * The snapshot to render on a server, where nothing connects: status `idle`, no error.
   *
   * @returns the same object on every call
   */
  getServerSnapshot(): StreamSnapshot
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

/**
 * A stream: typed event handlers, the connection status, and a framework-free store
 * (`subscribe` + `getSnapshot`) that React's `useSyncExternalStore` or any other view layer
 * can wrap. It does nothing until its first subscriber (`on`, `onStatus`, `onResync`,
 * `subscribe`, `for await`), and disconnects `lingerMs` after its last, ready to resume
 * from its cursor. Fold its events into a run state with `createRunStore`.
 */
export interface StreamHandle<C extends Catalog = DefaultCatalog>
  extends StreamHandleBase,
    AsyncIterable<EventOf<C>> {
  /**
   * Calls `handler` for each event of a type, or for every event with `'*'`. A handler that
   * throws is reported to `onError`; the stream and the other handlers go on. Counts as a
   * subscriber.
   *
   * @param type - an event type of the catalog, or `'*'`
   * @param handler - called with the typed event
   * @returns a function that removes the handler
   */
  on<T extends EventType<C> | '*'>(
    type: T,
    handler: (event: T extends EventType<C> ? EventOf<C, T> : EventOf<C>) => void,
  ): () => void
}
