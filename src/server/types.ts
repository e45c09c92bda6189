import type {
  Catalog,
  DefaultCatalog,
  Envelope,
  EventInput,
  EventOf,
  EventType,
  Framing,
  RunState,
  TaskwireError,
} from '../core/index.js'
import type { AccessRequest, AccessResult } from './access.js'

/** An event before the broker has given it an id. */
export interface UnsequencedEvent {
  /** The event type. */
  readonly type: string
  /** The stream it belongs to. */
  readonly stream: string
  /** When the hub accepted it, as an ISO 8601 string. */
  readonly ts: string
  /** The validated payload. */
  readonly data: unknown
  /** `JSON.stringify(data)`, serialized once by the publishing hub; a broker stores this text. */
  readonly dataJson: string
  /**
   * The size of its serialized frame, as the hub measured it, for a broker's byte budget.
   * @defaultValue unknown: a broker that keeps a budget measures `dataJson`
   */
  readonly bytes?: number | undefined
}

/**
 * An event as a broker stores and returns it: the envelope, and its payload's JSON as the
 * publishing hub serialized it, so no process serializes the payload again to write frames.
 */
export interface StoredEvent extends Envelope {
  /** `JSON.stringify(data)`, as the publishing hub wrote it. */
  readonly dataJson: string
}

/** What {@link Broker.append} returns: the stored event, and the id before it. */
export interface AppendedEvent extends StoredEvent {
  /**
   * The id of the event before it in the stream's log, null for the stream's first event,
   * undefined when the broker cannot tell. A hub holding the stream's state up to that id
   * folds the new event at once instead of reading the log.
   */
  readonly previousId?: string | null | undefined
}

/** What {@link Broker.read} returns. */
export interface BrokerReadResult {
  /** The retained events after the cursor, in id order. */
  events: StoredEvent[]
  /**
   * True when the cursor is older than the oldest retained event (or unknown to the log):
   * events between it and `events[0]` are gone, so the reader needs a reset.
   */
  expired: boolean
  /**
   * Why the cursor expired, when it did: `cursor-expired` when it belongs to this log but
   * its events were dropped, `cursor-unknown` when this log never issued it (a cursor from
   * before a restart, from a forgotten stream, or not an id at all).
   */
  reason?: 'cursor-expired' | 'cursor-unknown' | undefined
}

/**
 * A stream's state as the hub stores it in the broker from time to time, so a process that
 * has not followed the stream folds it from here plus the log's tail rather than from the
 * first event (which the log may no longer hold).
 */
export interface StreamCheckpoint {
  /** The state folded up to and including `state.lastEventId`. */
  readonly state: RunState
  /** True when a terminal event of the hub's catalog was folded in: the stream has ended. */
  readonly ended: boolean
}

/** What a broker subscription calls: each event after the cursor, and any gap. */
export interface BrokerListener {
  /**
   * Called once per event after the subscription's cursor, in id order, replayed events
   * first, then live ones, with no gap and no duplicate between them.
   *
   * @param event - the next event
   */
  event(event: StoredEvent): void
  /**
   * Called when events after the cursor can no longer be delivered: they left the log
   * before the subscription read them (the cursor was older than the log, or the broker was
   * cut off from its store for longer than the log kept them). Delivery goes on with the
   * oldest event still retained.
   *
   * @param reason - `cursor-expired` or `cursor-unknown`, as in {@link BrokerReadResult}
   */
  gap(reason: 'cursor-expired' | 'cursor-unknown'): void
}

/**
 * Where a hub keeps each stream's replay log, and how it learns of events published by any
 * process. A broker orders and stores; the hub validates, serializes and folds. The
 * in-memory broker serves one process; `taskwire/redis` implements the same interface on
 * Redis for many. Both pass one contract suite.
 *
 * Besides the logs, a broker holds what processes must agree on: state checkpoints, the
 * claims that make an execution's idempotency key and ownership hold across processes,
 * and the channels that carry a cancel to the process running an execution.
 */
export interface Broker {
  /**
   * Appends an event to the stream's log and assigns its id: strictly increasing within the
   * stream, in one order every reader in every process sees.
   *
   * @param event - the validated event without an id
   * @returns the stored event, with the id before it when the broker knows it
   * @throws {@link taskwire!TaskwireHttpError} 503 when the broker cannot store it now
   *   (`broker-full`, `broker-unavailable`); nothing was stored
   */
  append(event: UnsequencedEvent): Promise<AppendedEvent>
  /**
   * Reads the retained events after a cursor. A cursor of `"0"` reads like `null`; a
   * cursor the stream never issued (not an id, or past the newest) reads as `expired`.
   *
   * @param stream - the stream
   * @param afterId - the last id the reader has, or null for the whole retained log
   */
  read(stream: string, afterId: string | null): Promise<BrokerReadResult>
  /**
   * Delivers every event of a stream after a cursor, the retained ones first, then each one
   * appended later, in id order and each once. It maps onto a shared log as a range read
   * followed by blocking reads from the last id delivered.
   *
   * @param stream - the stream
   * @param afterId - the last id the subscriber has; null for the whole retained log
   * @param listener - called once per event, and on a gap
   * @returns resolves, once the subscription is in place, with a function that ends it
   */
  subscribe(stream: string, afterId: string | null, listener: BrokerListener): Promise<() => void>
  /**
   * The newest checkpoint stored for a stream.
   *
   * @param stream - the stream
   * @returns the checkpoint, or null when none is stored
   */
  loadCheckpoint(stream: string): Promise<StreamCheckpoint | null>
  /**
   * Stores a checkpoint unless the one stored is at a later event: a slower process never
   * replaces a newer checkpoint with an older one. It lives as long as the stream's log.
   *
   * @param stream - the stream
   * @param checkpoint - the state and whether the stream ended
   */
  saveCheckpoint(stream: string, checkpoint: StreamCheckpoint): Promise<void>
  /**
   * Claims a key for a while unless another claim holds it: what makes an idempotency key
   * start one execution across processes.
   *
   * @param key - the key
   * @param value - what the claim records (an execution's stream and owner)
   * @param ttlMs - how long the claim holds, in milliseconds
   * @returns `value` when this call took the claim, or the value of the claim that holds it
   */
  claim(key: string, value: string, ttlMs: number): Promise<string>
  /**
   * Reads the value of a claim that holds.
   *
   * @param key - the key
   * @returns the value, or null when no claim holds the key
   */
  lookup(key: string): Promise<string | null>
  /**
   * Renews or ends a claim, only while it still holds `value`: a lease kept alive by its
   * owner, shortened to an idempotency window when the run ends, or dropped.
   *
   * @param key - the key
   * @param value - the value the caller's claim recorded
   * @param ttlMs - how long it holds from now; `0` drops it
   * @returns true when the claim held `value` and was changed
   */
  renew(key: string, value: string, ttlMs: number): Promise<boolean>
  /**
   * Sends a message to every listener of a channel in every process (a cancel for the
   * process that runs an execution). Messages are not stored: a listener that is not there
   * misses them.
   *
   * @param channel - the channel
   * @param message - the text
   * @returns how many processes listened
   */
  notify(channel: string, message: string): Promise<number>
  /**
   * Listens to a channel's messages.
   *
   * @param channel - the channel
   * @param listener - called with each message
   * @returns resolves, once listening, with a function that stops it
   */
  listen(channel: string, listener: (message: string) => void): Promise<() => void>
  /** Releases timers, connections and memory; the broker cannot be used afterwards. */
  close(): Promise<void>
}

/**
 * Where a subscription writes its frames: a Node response, a Web stream controller or a
 * WebSocket. Adapters implement it; the hub calls it.
 */
export interface SubscriberSink {
  /**
   * Writes SSE text (one or more whole frames).
   *
   * @param chunk - the text to write
   */
  write(chunk: string): void
  /** Bytes written but not yet handed to the network, for the high-water mark. */
  bufferedBytes(): number
  /**
   * Bytes handed to the network so far (for HTTP/1.1, the socket's `bytesWritten`), or
   * `undefined` where the adapter cannot see the socket. The hub compares it from one
   * heartbeat to the next, and reports `response-buffered` through `onError` when nothing it
   * wrote got through in a whole interval (a compression middleware holding the stream).
   * @returns the count, or undefined
   */
  deliveredBytes?(): number | undefined
  /**
   * Ends the response. With an error (a slow consumer, a hub shutdown) the adapter drops
   * what is still buffered and destroys the connection; without, it flushes and ends.
   * The hub calls it once per started subscription, whatever ended it, `close()` included,
   * so it must be harmless on a connection the client already closed.
   *
   * @param error - why the hub ended the subscription abnormally
   */
  end(error?: TaskwireError): void
}

/** Options of {@link Hub.subscribe}. */
export interface SubscribeOptions {
  /** The last id the client has (`Last-Event-ID`); replay starts after it. */
  lastEventId?: string | null | undefined
  /**
   * How frames name their event.
   * @defaultValue the hub's `framing`
   */
  framing?: Framing | undefined
  /**
   * Who is subscribing: a user id, an API key or an IP address, as the adapter's `key`
   * option reads it from the request. Counted against `maxConnectionsPerKey`, and matched by
   * {@link Hub.disconnect} to end a caller's subscriptions when its credentials are revoked.
   * @defaultValue none: the subscription counts only against the hub-wide limits
   */
  key?: string | undefined
  /**
   * A connection slot taken earlier with {@link Hub.reserve} (a WebSocket waiting for its
   * first message), which the subscription takes over instead of taking a new one.
   * @defaultValue none: the subscription takes its own slot
   */
  reservation?: Reservation | undefined
}

/**
 * A connection slot held before a subscription exists, counted by `maxConnections` and
 * `maxConnectionsPerKey` like an open stream. Release it, or pass it to
 * {@link Hub.subscribe}, which takes it over.
 */
export interface Reservation {
  /** The caller key the slot was taken for. */
  readonly key: string | undefined
  /** Frees the slot; harmless when it was freed or taken over already. */
  release(): void
}

/**
 * Why a subscription ended: the client left, the run ended, the client fell behind,
 * {@link Hub.disconnect} ended it (credentials revoked), the hub closed, or the broker's log
 * lost events before this process delivered them (`gap`: the client reconnects and gets a
 * `stream.reset`).
 */
export type SubscriptionEndReason = 'client' | 'terminal' | 'slow-consumer' | 'revoked' | 'hub-closed' | 'gap'

/** What {@link Hub.disconnect} is told of each subscription, to decide whether to end it. */
export interface SubscriptionInfo {
  /** The stream subscribed to. */
  readonly stream: string
  /** The caller's key, when the adapter gave one. */
  readonly key: string | undefined
}

/**
 * Which subscriptions {@link Hub.disconnect} ends: those matching every field given (an
 * empty filter matches all), or those a predicate accepts.
 */
export type DisconnectFilter =
  | {
      /** Only subscriptions to this stream. */
      stream?: string | undefined
      /** Only subscriptions of this caller key. */
      key?: string | undefined
    }
  | ((subscription: SubscriptionInfo) => boolean)

/** Options of {@link Hub.close}. */
export interface HubCloseOptions {
  /**
   * Spreads the closing of open connections over this many milliseconds, each at a random
   * point, so the clients of a restarting server do not all reconnect in the same instant.
   * New subscriptions and publishes are refused from the start of the window.
   * @defaultValue `0`: every connection is closed at once
   */
  drainMs?: number | undefined
  /**
   * What happens to executions still running (`startExecution`): `'cancel'` aborts each and
   * publishes its `run.cancelled` before connections close; `'await'` lets each finish (its
   * terminal event still reaches its viewers) before connections close.
   * @defaultValue `'cancel'`
   */
  executions?: 'cancel' | 'await' | undefined
}

/**
 * An admitted subscriber. It holds a connection slot from {@link Hub.subscribe} until it
 * ends; live events that arrive before {@link Subscription.start} are kept and written
 * after the replay, so nothing falls in between.
 */
export interface Subscription {
  /** The stream subscribed to. */
  readonly stream: string
  /**
   * Starts writing: `retry:`, then the snapshot or replay, then live frames.
   *
   * @param sink - where to write
   */
  start(sink: SubscriberSink): void
  /** Ends the subscription and frees its slot; the adapter calls it when the client leaves. */
  close(): void
  /** Resolves when the subscription has ended, with the reason. */
  readonly ended: Promise<SubscriptionEndReason>
}

/** Counts of what a hub holds, for monitoring and for tests that prove nothing leaks. */
export interface HubStats {
  /** Admitted subscriptions not yet ended. */
  connections: number
  /** Streams with at least one subscription. */
  streams: number
  /** Broker listeners the hub holds (one per stream with subscriptions). */
  brokerListeners: number
  /** Heartbeat timers running (0 or 1). */
  timers: number
}

/** The result of {@link Hub.read}. */
export interface HubReadResult<C extends Catalog = DefaultCatalog> extends Omit<BrokerReadResult, 'events'> {
  /** The events after the cursor. */
  events: EventOf<C>[]
  /** True when the stream's run reached a terminal event. */
  ended: boolean
}

/**
 * A hub of any catalog: what every `Hub<C>` is, whatever its `C`. Take it in helpers that
 * accept any hub (a route that mounts `serveNode`, a shutdown hook), so they need no
 * generic; take `Hub<C>` where the catalog's types matter (`startExecution`'s `emit`).
 *
 * `Hub` alone means `Hub<DefaultCatalog>`, and a hub of another catalog cannot be one
 * without lying: its `read` returns events the default catalog does not know, and its
 * `publish` refuses default types it lacks. Here `publish` takes any type and payload, which
 * the hub's catalog checks when it runs, and `read` returns envelopes of any type.
 *
 * @example
 * ```ts
 * import type { AnyHub } from 'taskwire/server'
 *
 * export function shutdownOnSignal(hub: AnyHub): void {
 *   process.once('SIGTERM', () => void hub.close({ drainMs: 5_000 }))
 * }
 * ```
 */
export interface AnyHub {
  /** The catalog events are validated against. */
  readonly catalog: Catalog
  /**
   * The broker that stores and orders the hub's events: the one given in
   * `HubOptions.broker`, or the memory broker the hub created.
   */
  readonly broker: Broker
  /**
   * Publishes an event: validates it, lets the broker assign its id and log it, and writes
   * its frame, serialized once, to every subscriber of the stream.
   *
   * Typed by no catalog here: the hub's catalog checks `type` and `data` when called.
   *
   * @param stream - the stream (job, run, workflow or execution id)
   * @param type - the event type
   * @param data - the payload
   * @returns the envelope as stored
   * @throws {@link taskwire!TaskwireValidationError} when the type is unknown or the data
   *   invalid, `reserved-event-type` for a `stream.*` type (sent by the hub alone), and
   *   `event-too-large` past `maxEventBytes`: each a 4xx for a webhook to answer
   * @throws {@link taskwire!TaskwireHttpError} 503 `broker-full` when the memory broker
   *   holds `maxStreams` streams that all have subscribers
   */
  publish(stream: string, type: string, data: unknown): Promise<Envelope>
  /**
   * Admits a subscriber to a stream.
   *
   * @param stream - the stream
   * @param options - the cursor and framing
   * @returns the subscription, or null when the stream has ended and nothing follows the
   *   cursor (serve it as HTTP 204)
   * @throws {@link taskwire!TaskwireHttpError} 503 `connection-limit` or `stream-limit`, with
   *   `retryAfterMs`, when a limit is reached
   */
  subscribe(stream: string, options?: SubscribeOptions): Promise<Subscription | null>
  /**
   * Reads the retained events after a cursor, for polling: envelopes of any type here, as
   * in a `HubReadResult` of the hub's catalog.
   *
   * @param stream - the stream
   * @param afterId - the last id the reader has
   */
  read(
    stream: string,
    afterId?: string | null,
  ): Promise<
    Omit<BrokerReadResult, 'events'> & {
      /** The events after the cursor. */
      events: Envelope[]
      /** True when the stream's run reached a terminal event. */
      ended: boolean
    }
  >
  /**
   * The stream's current state, folded by the hub from the broker's log (the rules of
   * `reduceRun`). It may be shared with other readers: treat it as read-only.
   *
   * @param stream - the stream
   */
  snapshot(stream: string): Promise<RunState>
  /** Counts of subscriptions, streams, listeners and timers. */
  stats(): HubStats
  /**
   * Runs the hub's `authorize` policy for a request at one of its doors. Every adapter calls
   * it before admitting anyone; call it too in routes of your own that reach a stream (a
   * DELETE that cancels an execution, a route that returns `hub.snapshot()`).
   *
   * @param access - the stream, the door, the headers and the raw request
   * @returns admitted with the caller's key, or the refusal to render
   * @throws whatever the policy threw other than a 401/403/404 {@link taskwire!TaskwireHttpError}
   */
  authorize(access: AccessRequest): Promise<AccessResult>
  /**
   * Takes a connection slot before there is a subscription to hold it, so a connection that
   * is still handshaking (a WebSocket waiting for its first message) counts against the
   * limits like an open stream.
   *
   * @param options - the caller key the slot counts against
   * @returns the reservation; release it or pass it to {@link Hub.subscribe}
   * @throws {@link taskwire!TaskwireHttpError} 503 `connection-limit` with `retryAfterMs` when
   *   no slot is free, and when the hub is closed
   */
  reserve(options?: { key?: string | undefined }): Reservation
  /**
   * Ends the subscriptions that match a filter, with reason `revoked`: `authorize` runs only
   * when a subscriber connects, so call this when a caller's credentials are revoked or its
   * access to a stream is withdrawn. The connections close at once, as with a slow consumer;
   * a client that reconnects meets `authorize` again.
   *
   * @param filter - `{ stream, key }` (every field given must match) or a predicate
   * @returns how many subscriptions were ended
   * @example
   * ```ts
   * hub.disconnect({ key: userId }) // the user logged out everywhere
   * ```
   */
  disconnect(filter: DisconnectFilter): number
  /**
   * Shuts the hub down: refuses new subscriptions and publishes, settles running executions
   * (cancelled, or awaited, see {@link HubCloseOptions.executions}), ends every subscription
   * (reason `hub-closed`) at random points within `drainMs`, stops the heartbeat and closes
   * the broker the hub created; a broker passed in `HubOptions.broker` is left open for its
   * owner to close.
   *
   * @param options - the drain window and what to do with running executions
   * @returns resolves once every subscription has ended and the broker is closed
   */
  close(options?: HubCloseOptions): Promise<void>
}

/**
 * Validates, sequences, logs and fans out the events of many streams. Create one per
 * process with `createHub()` and mount it with `serveNode`, `serveWeb`, `servePoll` or
 * `attachWebSocket`. A hub of any catalog is an {@link AnyHub}.
 */
export interface Hub<C extends Catalog = DefaultCatalog> extends AnyHub {
  /** The catalog events are validated against. */
  readonly catalog: C
  /**
   * Publishes an event: validates it, lets the broker assign its id and log it, and writes
   * its frame, serialized once, to every subscriber of the stream.
   *
   * @param stream - the stream (job, run, workflow or execution id)
   * @param type - the event type
   * @param data - the payload
   * @returns the envelope as stored
   * @throws {@link taskwire!TaskwireValidationError} when the type is unknown or the data
   *   invalid, `reserved-event-type` for a `stream.*` type (sent by the hub alone), and
   *   `event-too-large` past `maxEventBytes`: each a 4xx for a webhook to answer
   * @throws {@link taskwire!TaskwireHttpError} 503 `broker-full` when the memory broker
   *   holds `maxStreams` streams that all have subscribers
   */
  publish<T extends EventType<C>>(stream: string, type: T, data: EventInput<C, T>): Promise<EventOf<C, T>>
  /**
   * Reads the retained events after a cursor, for polling.
   *
   * @param stream - the stream
   * @param afterId - the last id the reader has
   */
  read(stream: string, afterId?: string | null): Promise<HubReadResult<C>>
}
