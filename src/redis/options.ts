import type { RedisArgument, TypeMapping } from 'redis'
import { TaskwireError } from '../core/index.js'

/**
 * What the broker uses of a connection made by node-redis's `createClient()`. Any client it
 * returns fits, whatever its modules, scripts, RESP version or type mapping.
 */
export interface RedisConnection {
  /** True once `connect()` was called and until the client is closed. */
  readonly isOpen: boolean
  /** True while the connection is up and usable. */
  readonly isReady: boolean
  /**
   * Sends a raw command.
   *
   * @param args - the command and its arguments
   * @param options - the reply's type mapping
   */
  sendCommand(
    args: readonly RedisArgument[],
    options?: {
      /** How RESP types map to JavaScript values. */
      typeMapping?: TypeMapping
    },
  ): Promise<unknown>
  /**
   * Listens to the client's connection errors, which node-redis reports on each failed
   * attempt to reconnect.
   *
   * @param event - `error`
   * @param listener - called with the error
   */
  on(event: 'error', listener: (error: Error) => void): unknown
  /**
   * Listens to the client's (re)connections.
   *
   * @param event - `ready`
   * @param listener - called once the connection is usable
   */
  on(event: 'ready', listener: () => void): unknown
  /**
   * Stops listening to the client's connection errors.
   *
   * @param event - `error`
   * @param listener - the function given to `on`
   */
  off(event: 'error', listener: (error: Error) => void): unknown
  /**
   * Stops listening to the client's (re)connections.
   *
   * @param event - `ready`
   * @param listener - the function given to `on`
   */
  off(event: 'ready', listener: () => void): unknown
}

/** The connections the broker opens itself: it connects, subscribes with and closes them. */
export interface OwnedRedisConnection extends RedisConnection {
  /** Connects, retrying as the reconnect strategy says. */
  connect(): Promise<unknown>
  /**
   * Subscribes to a pub/sub channel.
   *
   * @param channel - the channel
   * @param listener - called with each message
   */
  subscribe(channel: string, listener: (message: string) => unknown): Promise<void>
  /**
   * Unsubscribes from a pub/sub channel.
   *
   * @param channel - the channel
   */
  unsubscribe(channel: string): Promise<void>
  /** Closes after the pending commands, like `QUIT`. */
  close(): Promise<void>
  /** Closes at once, rejecting the pending commands (a blocked `XREAD`). */
  destroy(): void
}

/** The options the broker gives each connection it creates. */
export interface ConnectionOverrides {
  /** Fail commands at once while disconnected instead of queueing them. */
  disableOfflineQueue: boolean
  /** The name the connection gives itself with `CLIENT SETNAME`. */
  name?: string
  /** Socket options, with the broker's reconnect strategy. */
  socket: Record<string, unknown>
}

/** A client made by node-redis's `createClient()`, which the broker duplicates. */
export interface RedisClientLike extends RedisConnection {
  /** The options the client was created with. */
  readonly options?: {
    /** Its socket options, kept for the connections the broker duplicates from it. */
    socket?: object | undefined
  }
  /**
   * Creates an unconnected client with this one's options, and overrides.
   *
   * @param overrides - options that replace this client's
   */
  duplicate(overrides: ConnectionOverrides): OwnedRedisConnection
}

/** Options of {@link createRedisBroker}. */
export interface RedisBrokerOptions {
  /**
   * The Redis server, as `redis[s]://[[user][:password]@][host][:port][/db]`. Give `url` or
   * `client`, not both.
   * @defaultValue `'redis://127.0.0.1:6379'` when neither is given
   */
  url?: string | undefined
  /**
   * A client you created with node-redis's `createClient()` and connected. The broker sends
   * its commands on it, and duplicates it (same server, credentials and TLS) for the
   * connection that blocks on new events and the one that listens to channels, which it
   * closes itself. It never connects or closes this client: that stays yours. It listens to
   * its `error` events while open, to report an outage once.
   * @defaultValue none: the broker connects to `url`
   */
  client?: RedisClientLike | undefined
  /**
   * Prepended to every key and channel the broker uses, so several applications (or test
   * runs) can share a server: `<prefix>s:<stream>` holds a stream's log, `<prefix>c:<stream>`
   * its checkpoint, `<prefix>k:<key>` a claim and `<prefix>n:<channel>` a channel.
   * @defaultValue `'taskwire:'`
   */
  prefix?: string | undefined
  /**
   * About how many events each stream's log keeps (`XADD ... MAXLEN ~`): Redis trims whole
   * blocks of entries, so a log may hold up to a block (100 entries by default) more.
   * @defaultValue `10_000`
   */
  maxLen?: number | undefined
  /**
   * About how old, in milliseconds, the oldest event of a log may be (`XTRIM ... MINID ~`
   * at each append, in whole blocks like `maxLen`). `false` keeps events whatever their age.
   * @defaultValue `86_400_000` (a day)
   */
  maxAgeMs?: number | false | undefined
  /**
   * A stream appended to for the last time this long ago leaves Redis, its log and its
   * checkpoint (`PEXPIRE` at each append), so the streams of finished runs do not pile up.
   * A later reader with a cursor into it gets a `cursor-unknown` gap. `false` keeps them.
   * @defaultValue `maxAgeMs`, or a day when `maxAgeMs` is `false`
   */
  idleStreamMs?: number | false | undefined
  /**
   * How long, in milliseconds, one blocking read waits for new events before it is sent
   * again: the longest a dead connection can go unnoticed by the reader.
   * @defaultValue `5000`
   */
  blockMs?: number | undefined
  /**
   * The `retryAfterMs` of the 503 `broker-unavailable` errors thrown while Redis cannot be
   * reached, which the hub passes on to clients as `Retry-After`.
   * @defaultValue `1000`
   */
  retryAfterMs?: number | undefined
  /**
   * Receives what goes wrong outside a call: a lost connection (once per outage, not per
   * reconnection attempt), an entry that is not a taskwire event, and errors thrown by
   * listeners (the other listeners still get the event).
   * @defaultValue logs with `console.error`
   */
  onError?: ((error: TaskwireError) => void) | undefined
}

/** {@link RedisBrokerOptions} with every default applied. */
export interface ResolvedRedisBrokerOptions {
  /** The server to connect to, when no client was given. */
  readonly url: string
  /** The client given, if any. */
  readonly client: RedisClientLike | undefined
  /** The key and channel prefix. */
  readonly prefix: string
  /** The approximate length bound of each log. */
  readonly maxLen: number
  /** The approximate age bound of each log, or false. */
  readonly maxAgeMs: number | false
  /** How long an untouched stream stays in Redis, or false. */
  readonly idleStreamMs: number | false
  /** The blocking read's timeout. */
  readonly blockMs: number
  /** The `retryAfterMs` of 503 errors. */
  readonly retryAfterMs: number
  /** Where errors outside a call go. */
  readonly onError: (error: TaskwireError) => void
}

const DAY_MS = 86_400_000

/** The defaults of {@link RedisBrokerOptions}. */
export const DEFAULT_REDIS_BROKER_OPTIONS = Object.freeze({
  url: 'redis://127.0.0.1:6379',
  prefix: 'taskwire:',
  maxLen: 10_000,
  maxAgeMs: DAY_MS,
  blockMs: 5000,
  retryAfterMs: 1000,
  onError: (error: TaskwireError): void => console.error(error),
})

const invalid = (message: string): TaskwireError => new TaskwireError('invalid-option', message)

const positiveInteger = (name: string, value: unknown): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw invalid(`${name} must be a positive whole number, got ${String(value)}.`)
  }
  return value
}

const positiveIntegerOrOff = (name: string, value: unknown): number | false =>
  value === false ? false : positiveInteger(name, value)

const isClient = (value: unknown): value is RedisClientLike =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as RedisClientLike).sendCommand === 'function' &&
  typeof (value as RedisClientLike).duplicate === 'function'

/**
 * Applies the defaults to Redis broker options and checks them.
 *
 * @param options - the options given
 * @returns every option, resolved
 * @throws {@link taskwire!TaskwireError} `invalid-option` when both `url` and `client` are
 *   given, when `client` is not a connected node-redis client, or when a bound is not a
 *   positive whole number
 */
export function resolveRedisBrokerOptions(options: RedisBrokerOptions = {}): ResolvedRedisBrokerOptions {
  const { url, client } = options
  if (url !== undefined && client !== undefined) {
    throw invalid('Give url or client, not both: the broker duplicates client for its own connections.')
  }
  if (url !== undefined && (typeof url !== 'string' || url === '')) {
    throw invalid(`url must be a redis:// or rediss:// URL, got ${String(url)}.`)
  }
  if (client !== undefined) {
    if (!isClient(client)) throw invalid('client must be a client made by createClient() of node-redis.')
    if (!client.isOpen) throw invalid('client is not connected: call await client.connect() first.')
  }
  const prefix = options.prefix ?? DEFAULT_REDIS_BROKER_OPTIONS.prefix
  if (typeof prefix !== 'string') throw invalid(`prefix must be a string, got ${String(prefix)}.`)
  const maxAgeMs = positiveIntegerOrOff('maxAgeMs', options.maxAgeMs ?? DEFAULT_REDIS_BROKER_OPTIONS.maxAgeMs)
  const retryAfterMs = options.retryAfterMs ?? DEFAULT_REDIS_BROKER_OPTIONS.retryAfterMs
  if (typeof retryAfterMs !== 'number' || !Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
    throw invalid(`retryAfterMs must be a number of milliseconds, got ${String(retryAfterMs)}.`)
  }
  const onError = options.onError ?? DEFAULT_REDIS_BROKER_OPTIONS.onError
  if (typeof onError !== 'function') throw invalid('onError must be a function.')
  return {
    url: url ?? DEFAULT_REDIS_BROKER_OPTIONS.url,
    client,
    prefix,
    maxLen: positiveInteger('maxLen', options.maxLen ?? DEFAULT_REDIS_BROKER_OPTIONS.maxLen),
    maxAgeMs,
    idleStreamMs: positiveIntegerOrOff(
      'idleStreamMs',
      options.idleStreamMs ?? (maxAgeMs === false ? DAY_MS : maxAgeMs),
    ),
    blockMs: positiveInteger('blockMs', options.blockMs ?? DEFAULT_REDIS_BROKER_OPTIONS.blockMs),
    retryAfterMs,
    onError,
  }
}
