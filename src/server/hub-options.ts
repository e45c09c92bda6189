import {
  type Catalog,
  type DefaultCatalog,
  defaultCatalog,
  type Framing,
  TaskwireError,
} from '../core/index.js'
import type { AccessPolicy } from './access.js'
import type { Broker } from './types.js'

/**
 * Extra information sent with the `stream.snapshot` a new subscriber gets first, in its
 * `meta` field (a job's status, a title ...).
 *
 * @param stream - the stream subscribed to
 * @returns the record to send as `meta`
 */
export type SnapshotMeta = (stream: string) => Record<string, unknown> | Promise<Record<string, unknown>>

/** The replay bounds of the memory broker a hub creates. */
export interface ReplayOptions {
  /**
   * Most events kept per stream; a subscriber whose cursor is older gets a `stream.reset`.
   * @defaultValue `1000`
   */
  maxEvents?: number | false | undefined
  /**
   * Oldest event kept, by age in milliseconds.
   * @defaultValue `900_000` (15 minutes)
   */
  maxAgeMs?: number | false | undefined
  /**
   * Most bytes of events kept for replay over all streams together; past it the logs
   * appended to the longest ago are dropped first (their readers get a `stream.reset`).
   * @defaultValue `67_108_864` (64 MiB)
   */
  maxBytes?: number | false | undefined
  /**
   * Most streams kept; streams without subscribers are forgotten first, and a publish to a
   * new stream is refused (503 `broker-full`) when every stream kept has subscribers.
   * @defaultValue `10_000`
   */
  maxStreams?: number | false | undefined
}

/** Options of `createHub()`. Every field is optional. */
export interface HubOptions<C extends Catalog = DefaultCatalog> {
  /**
   * The events the hub accepts; its types flow into `publish`, `read` and the client.
   * Keep the `stream.*` events in a catalog of your own (spread `defaultCatalog.events`):
   * the hub sends `stream.snapshot` and `stream.reset` itself, and `run.*` events end
   * streams and drive the execution runner.
   * @defaultValue `defaultCatalog`
   */
  catalog?: C | undefined
  /**
   * Where replay logs and states live and how processes learn of each other's events.
   * A broker given here is yours: `hub.close()` leaves it open.
   * @defaultValue a memory broker with the `replay` bounds, closed by `hub.close()`
   */
  broker?: Broker | undefined
  /**
   * The bounds of the default memory broker's replay logs. Ignored with `broker`.
   * @defaultValue `{ maxEvents: 1000, maxAgeMs: 900_000, maxBytes: 67_108_864, maxStreams: 10_000 }`
   */
  replay?: ReplayOptions | undefined
  /**
   * Time between heartbeat comments (`: hb`) on every open stream, so proxies keep idle
   * streams open and clients can tell a dead connection from a quiet one. `false` = off.
   * @defaultValue `15_000`
   */
  heartbeatMs?: number | false | undefined
  /**
   * The reconnection delay sent once on open as `retry:`. `false` sends none.
   * @defaultValue `2000`
   */
  retryMs?: number | false | undefined
  /**
   * How frames name their event, unless a subscriber asks otherwise.
   * @defaultValue `'named'`
   */
  framing?: Framing | undefined
  /**
   * Sends a subscriber that has no cursor a `stream.snapshot` event with the folded state
   * first (and then live events) instead of the replay. A function also supplies the
   * snapshot's `meta`. A subscriber without a cursor whose stream's log was trimmed gets a
   * snapshot whatever this says, since the replay would be incomplete.
   * @defaultValue `false`
   */
  snapshotOnConnect?: boolean | SnapshotMeta | undefined
  /**
   * Most subscriptions at once, over every stream. Past it, `subscribe` throws a 503
   * `connection-limit`. `false` = no limit.
   * @defaultValue `10_000`
   */
  maxConnections?: number | false | undefined
  /**
   * Most subscriptions of one caller at once, by the key `authorize` names (`{ key }`), so
   * one user or one address cannot take every connection. Subscriptions without a key are
   * not counted. Past it, `subscribe` throws a 503 `connection-limit`. `false` = no limit.
   * @defaultValue `false`
   */
  maxConnectionsPerKey?: number | false | undefined
  /**
   * Who may reach which stream, asked at every door (SSE, poll, WebSocket, snapshot,
   * execution start and cancel) before any byte of a stream is written; see
   * {@link AccessPolicy}. Adapters may add checks of their own on top.
   * @defaultValue admits every request
   */
  authorize?: AccessPolicy | undefined
  /**
   * Most subscriptions to one stream. Past it, `subscribe` throws a 503 `stream-limit`.
   * `false` = no limit.
   * @defaultValue `1000`
   */
  maxPerStream?: number | false | undefined
  /**
   * How long a client refused with a 503 should wait, sent as `Retry-After`.
   * @defaultValue `5000`
   */
  retryAfterMs?: number | undefined
  /**
   * Most bytes a subscriber's connection may hold unsent; past it the subscriber is ended
   * as a `slow-consumer` and resumes from its last id, so nothing is lost and memory stays
   * bounded. The same bound applies to live events kept for a subscription before it
   * starts. A first replay larger than the mark may drain with up to one more mark of live
   * events on top of it. `false` = no limit.
   * @defaultValue `1_048_576` (1 MiB)
   */
  highWaterMarkBytes?: number | false | undefined
  /**
   * Largest event accepted by `publish`, measured in UTF-8 bytes on its serialized frame.
   * `false` = no limit.
   * @defaultValue `262_144` (256 KiB)
   */
  maxEventBytes?: number | false | undefined
  /**
   * Largest `stream.snapshot` or `stream.reset` frame, in UTF-8 bytes. A state that
   * serializes larger is never sent whole, so no reader is locked out by its size: a reader
   * whose replay log is complete gets the replay instead, any other a `stream.reset` with
   * reason `snapshot-too-large` whose state keeps the run's fields (status, ids, timings,
   * error, `lastEventId`) but not its tasks, agents and nodes; fetch the full state from a
   * route of your own (`hub.snapshot()`) when the client reports it. `false` = no limit.
   * @defaultValue `1_048_576` (1 MiB, a quarter of the client's default `maxEventChars`)
   */
  maxSnapshotBytes?: number | false | undefined
  /**
   * Receives errors nobody awaits: a failed write to a subscriber, a broker listener that
   * threw, a snapshot that could not be sent.
   * @defaultValue logs with `console.error`
   */
  onError?: ((error: TaskwireError) => void) | undefined
  /**
   * The clock that stamps each event's `ts`, in epoch milliseconds.
   * @defaultValue `Date.now`
   */
  now?: (() => number) | undefined
}

/** {@link HubOptions} with every default applied; `broker` stays undefined when not given. */
export type ResolvedHubOptions<C extends Catalog = DefaultCatalog> = {
  [K in Exclude<keyof HubOptions<C>, 'catalog' | 'broker' | 'replay'>]-?: Exclude<HubOptions<C>[K], undefined>
} & {
  /** The catalog events are validated against. */
  catalog: C
  /** The broker given, if any. */
  broker: Broker | undefined
  /** The replay bounds of the default memory broker. */
  replay: Required<{ [K in keyof ReplayOptions]: Exclude<ReplayOptions[K], undefined> }>
}

/** The defaults of {@link HubOptions}. */
export const DEFAULT_HUB_OPTIONS: Readonly<ResolvedHubOptions> = Object.freeze({
  catalog: defaultCatalog,
  broker: undefined,
  replay: Object.freeze({
    maxEvents: 1000,
    maxAgeMs: 15 * 60_000,
    maxBytes: 64 * 1024 * 1024,
    maxStreams: 10_000,
  }),
  heartbeatMs: 15_000,
  retryMs: 2000,
  framing: 'named',
  snapshotOnConnect: false,
  maxConnections: 10_000,
  maxConnectionsPerKey: false,
  authorize: () => true,
  maxPerStream: 1000,
  retryAfterMs: 5000,
  highWaterMarkBytes: 1024 * 1024,
  maxEventBytes: 256 * 1024,
  maxSnapshotBytes: 1024 * 1024,
  onError: (error: TaskwireError) => console.error(error),
  now: () => Date.now(),
})

/**
 * Applies the defaults to hub options and checks them.
 *
 * @param options - the options given
 * @returns every option, resolved
 * @throws {@link taskwire!TaskwireError} `invalid-option` when a number is out of range
 */
export function resolveHubOptions<C extends Catalog = DefaultCatalog>(
  options: HubOptions<C> = {},
): ResolvedHubOptions<C> {
  const d = DEFAULT_HUB_OPTIONS
  const resolved: ResolvedHubOptions<C> = {
    catalog: options.catalog ?? (d.catalog as Catalog as C),
    broker: options.broker,
    replay: {
      maxEvents: options.replay?.maxEvents ?? d.replay.maxEvents,
      maxAgeMs: options.replay?.maxAgeMs ?? d.replay.maxAgeMs,
      maxBytes: options.replay?.maxBytes ?? d.replay.maxBytes,
      maxStreams: options.replay?.maxStreams ?? d.replay.maxStreams,
    },
    heartbeatMs: options.heartbeatMs ?? d.heartbeatMs,
    retryMs: options.retryMs ?? d.retryMs,
    framing: options.framing ?? d.framing,
    snapshotOnConnect: options.snapshotOnConnect ?? d.snapshotOnConnect,
    maxConnections: options.maxConnections ?? d.maxConnections,
    maxConnectionsPerKey: options.maxConnectionsPerKey ?? d.maxConnectionsPerKey,
    authorize: options.authorize ?? d.authorize,
    maxPerStream: options.maxPerStream ?? d.maxPerStream,
    retryAfterMs: options.retryAfterMs ?? d.retryAfterMs,
    highWaterMarkBytes: options.highWaterMarkBytes ?? d.highWaterMarkBytes,
    maxEventBytes: options.maxEventBytes ?? d.maxEventBytes,
    maxSnapshotBytes: options.maxSnapshotBytes ?? d.maxSnapshotBytes,
    onError: options.onError ?? d.onError,
    now: options.now ?? d.now,
  }
  const positive = {
    heartbeatMs: resolved.heartbeatMs,
    maxConnections: resolved.maxConnections,
    maxConnectionsPerKey: resolved.maxConnectionsPerKey,
    maxPerStream: resolved.maxPerStream,
    highWaterMarkBytes: resolved.highWaterMarkBytes,
    maxEventBytes: resolved.maxEventBytes,
    maxSnapshotBytes: resolved.maxSnapshotBytes,
  }
  for (const [key, value] of Object.entries(positive)) {
    if (value !== false && !(typeof value === 'number' && value > 0)) {
      throw new TaskwireError(
        'invalid-option',
        `${key} must be a positive number or false, got ${String(value)}.`,
      )
    }
  }
  for (const [key, value] of Object.entries({
    retryMs: resolved.retryMs,
    retryAfterMs: resolved.retryAfterMs,
  })) {
    if (value !== false && !(Number.isSafeInteger(value) && Number(value) >= 0)) {
      throw new TaskwireError(
        'invalid-option',
        `${key} must be a whole number of milliseconds, got ${String(value)}.`,
      )
    }
  }
  if (resolved.framing !== 'named' && resolved.framing !== 'data-only') {
    throw new TaskwireError(
      'invalid-option',
      `framing must be 'named' or 'data-only', got ${String(resolved.framing)}.`,
    )
  }
  return resolved
}
