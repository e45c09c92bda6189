import { randomUUID } from 'node:crypto'
import { TaskwireError, TaskwireHttpError } from '../core/index.js'
import type {
  AppendedEvent,
  Broker,
  BrokerListener,
  BrokerReadResult,
  StoredEvent,
  StreamCheckpoint,
  UnsequencedEvent,
} from '../server/index.js'
import { ChannelListeners } from './channels.js'
import { type Connections, isReplyError, openConnections } from './connections.js'
import { entriesOf, type RawEntry, toStoredEvent } from './entries.js'
import {
  type RedisBrokerOptions,
  type RedisConnection,
  type ResolvedRedisBrokerOptions,
  resolveRedisBrokerOptions,
} from './options.js'
import { APPEND, CLAIM, RENEW, REPLY_TYPES, runScript, SAVE_CHECKPOINT, TAIL } from './scripts.js'
import { classifyCursor, type LogBounds, parseCursor, trimPoint, ZERO_ID } from './stream-id.js'
import { StreamReader } from './stream-reader.js'

/** Counts of what a Redis broker holds in this process, for monitoring and leak tests. */
export interface RedisBrokerStats {
  /** Streams with subscriptions here, each one key of the blocking read. */
  streams: number
  /** Subscriptions over all streams. */
  subscriptions: number
  /** Channels with listeners here, each subscribed once in Redis. */
  channels: number
}

/** A {@link taskwire/server!Broker} on Redis, from {@link createRedisBroker}. */
export interface RedisBroker extends Broker {
  /** Counts of the streams, subscriptions and channels this process holds. */
  stats(): RedisBrokerStats
}

/** A stream's log as the `TAIL` script reads it. */
interface LogState {
  /** Its newest and oldest ids. */
  readonly bounds: LogBounds
  /** Whether the cursor read from is one of its entries. */
  readonly found: boolean
  /** The entries read after the cursor. */
  readonly entries: RawEntry[]
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

const logStates = (reply: unknown): LogState[] =>
  (Array.isArray(reply) ? reply : []).map((item: unknown) => {
    const [last, first, found, entries] = Array.isArray(item) ? item : []
    const firstId = str(first)
    return {
      bounds: { last: str(last) ?? ZERO_ID, first: firstId === '' ? undefined : firstId },
      found: found === 1,
      entries: entriesOf(entries),
    }
  })

const closedError = (): TaskwireError =>
  new TaskwireError('broker', 'The Redis broker is closed; create a new one.')

/** The wake key outlives a crashed process by this much at least, then leaves Redis. */
const WAKE_TTL_MS = 60_000

/** The oldest Redis with what the scripts use: exclusive ranges and `XTRIM ... MINID`. */
const MIN_REDIS_VERSION: readonly [number, number] = [6, 2]

class RedisStreamBroker implements RedisBroker {
  readonly #config: ResolvedRedisBrokerOptions
  readonly #connections: Connections
  readonly #reader: StreamReader
  readonly #channels: ChannelListeners
  readonly #wakeKey: string
  #closed = false
  #closing: Promise<void> | undefined

  constructor(config: ResolvedRedisBrokerOptions, connections: Connections) {
    this.#config = config
    this.#connections = connections
    this.#wakeKey = `${config.prefix}w:${randomUUID()}`
    this.#reader = new StreamReader({
      connection: connections.reader,
      wakeKey: this.#wakeKey,
      wake: () => this.#wake(),
      blockMs: config.blockMs,
      onError: config.onError,
    })
    this.#channels = new ChannelListeners({
      connection: () => connections.listener(),
      channelKey: (channel) => `${config.prefix}n:${channel}`,
      onError: config.onError,
    })
  }

  async append(event: UnsequencedEvent): Promise<AppendedEvent> {
    const { maxLen, maxAgeMs, idleStreamMs } = this.#config
    const reply = await this.#call((command) =>
      runScript(
        command,
        APPEND,
        [this.#streamKey(event.stream), this.#checkpointKey(event.stream)],
        [
          event.type,
          event.ts,
          event.dataJson,
          String(maxLen),
          String(maxAgeMs || 0),
          String(idleStreamMs || 0),
        ],
      ),
    )
    const [id, previous] = Array.isArray(reply) ? reply : []
    if (typeof id !== 'string' || typeof previous !== 'string') throw this.#unexpected('APPEND', reply)
    return {
      type: event.type,
      stream: event.stream,
      id,
      ts: event.ts,
      data: event.data,
      dataJson: event.dataJson,
      // Read in the same script as the append: exact, whoever else appends concurrently.
      previousId: previous === ZERO_ID ? null : previous,
    }
  }

  async read(stream: string, afterId: string | null): Promise<BrokerReadResult> {
    this.#assertOpen()
    const cursor = parseCursor(afterId)
    if (cursor.kind === 'unknown') return { events: [], expired: true, reason: 'cursor-unknown' }
    const from = cursor.kind === 'id' ? cursor.id : ZERO_ID
    const reply = await this.#call((command) =>
      runScript(command, TAIL, [this.#streamKey(stream)], ['-1', from]),
    )
    const [state] = logStates(reply)
    if (!state) throw this.#unexpected('TAIL', reply)
    // From the start, a log that lost its head reads as expired too: its reader does not get
    // the whole stream, as with the memory broker.
    const status = classifyCursor(from, state.bounds, state.found)
    if (status === 'cursor-unknown') return { events: [], expired: true, reason: status }
    const events = this.#events(stream, state.entries)
    return status === 'ok' ? { events, expired: false } : { events, expired: true, reason: status }
  }

  async subscribe(stream: string, afterId: string | null, listener: BrokerListener): Promise<() => void> {
    this.#assertOpen()
    const cursor = parseCursor(afterId)
    const key = this.#streamKey(stream)
    const from = cursor.kind === 'id' ? cursor.id : ZERO_ID
    const reply = await this.#call((command) => runScript(command, TAIL, [key], ['0', from]))
    const [state] = logStates(reply)
    if (!state) throw this.#unexpected('TAIL', reply)
    if (this.#closed) throw closedError()
    // The gap is told before any event; delivery then starts with the oldest entry kept. A
    // subscription from the start asked for what the log retains: it is not told of a
    // trimmed head.
    if (cursor.kind === 'start') return this.#reader.add(stream, key, trimPoint(state.bounds), listener)
    const status =
      cursor.kind === 'id' ? classifyCursor(cursor.id, state.bounds, state.found) : 'cursor-unknown'
    if (status === 'ok') return this.#reader.add(stream, key, from, listener)
    this.#tellGap(stream, listener, status)
    return this.#reader.add(stream, key, trimPoint(state.bounds), listener)
  }

  async loadCheckpoint(stream: string): Promise<StreamCheckpoint | null> {
    const stored = await this.#call((command) =>
      command.sendCommand(['HGET', this.#checkpointKey(stream), 'checkpoint'], { typeMapping: REPLY_TYPES }),
    )
    if (stored === null || stored === undefined) return null
    if (typeof stored !== 'string') throw this.#unexpected('HGET', stored)
    try {
      return JSON.parse(stored) as StreamCheckpoint
    } catch (cause) {
      throw new TaskwireError('broker', `The checkpoint of stream ${JSON.stringify(stream)} is not JSON.`, {
        cause,
      })
    }
  }

  async saveCheckpoint(stream: string, checkpoint: StreamCheckpoint): Promise<void> {
    this.#assertOpen()
    const at = parseCursor(checkpoint.state.lastEventId)
    // A state at no event of this log has nothing to save that a fold from the log lacks.
    if (at.kind !== 'id') return
    const json = JSON.stringify({ state: checkpoint.state, ended: checkpoint.ended })
    await this.#call((command) =>
      runScript(
        command,
        SAVE_CHECKPOINT,
        [this.#checkpointKey(stream)],
        [at.id, json, String(this.#config.idleStreamMs || 0)],
      ),
    )
  }

  async claim(key: string, value: string, ttlMs: number): Promise<string> {
    const ttl = this.#ttl(ttlMs, 'claim')
    const held = await this.#call((command) =>
      runScript(command, CLAIM, [this.#claimKey(key)], [value, String(ttl)]),
    )
    if (typeof held !== 'string') throw this.#unexpected('CLAIM', held)
    return held
  }

  async lookup(key: string): Promise<string | null> {
    const value = await this.#call((command) =>
      command.sendCommand(['GET', this.#claimKey(key)], { typeMapping: REPLY_TYPES }),
    )
    return typeof value === 'string' ? value : null
  }

  async renew(key: string, value: string, ttlMs: number): Promise<boolean> {
    const ttl = ttlMs <= 0 ? 0 : this.#ttl(ttlMs, 'renew')
    const renewed = await this.#call((command) =>
      runScript(command, RENEW, [this.#claimKey(key)], [value, String(ttl)]),
    )
    return renewed === 1
  }

  async notify(channel: string, message: string): Promise<number> {
    const count = await this.#call((command) =>
      command.sendCommand(['PUBLISH', `${this.#config.prefix}n:${channel}`, message]),
    )
    return typeof count === 'number' ? count : Number(count)
  }

  async listen(channel: string, listener: (message: string) => void): Promise<() => void> {
    this.#assertOpen()
    try {
      return await this.#channels.add(channel, listener)
    } catch (cause) {
      if (this.#closed) throw closedError()
      throw this.#unavailable(cause)
    }
  }

  stats(): RedisBrokerStats {
    return { ...this.#reader.stats(), channels: this.#channels.size }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    const stopped = this.#reader.close()
    this.#channels.clear()
    const command = this.#connections.command
    if (command.isReady) await command.sendCommand(['DEL', this.#wakeKey]).catch(() => {})
    // Closing the reader's connection ends its blocked read, and with it the loop.
    await this.#connections.close()
    await stopped
  }

  /** Runs commands on the command connection, failing fast with a 503 while it is down. */
  async #call<T>(operation: (command: RedisConnection) => Promise<T>): Promise<T> {
    this.#assertOpen()
    const command = this.#connections.command
    if (!command.isReady) throw this.#unavailable()
    try {
      return await operation(command)
    } catch (cause) {
      if (this.#closed) throw closedError()
      if (cause instanceof TaskwireError) throw cause
      throw this.#unavailable(cause)
    }
  }

  /** Ends the reader's blocked read, so that it reads a new subscription's stream now. */
  async #wake(): Promise<void> {
    const command = this.#connections.command
    if (this.#closed || !command.isReady) return
    const ttl = String(Math.max(WAKE_TTL_MS, this.#config.blockMs * 4))
    await Promise.all([
      command.sendCommand(['XADD', this.#wakeKey, 'MAXLEN', '1', '*', 'w', '1']),
      command.sendCommand(['PEXPIRE', this.#wakeKey, ttl]),
    ])
  }

  #events(stream: string, entries: readonly RawEntry[]): StoredEvent[] {
    const events: StoredEvent[] = []
    for (const entry of entries) {
      const event = toStoredEvent(stream, entry)
      if (event instanceof TaskwireError) this.#config.onError(event)
      else events.push(event)
    }
    return events
  }

  #tellGap(stream: string, listener: BrokerListener, reason: 'cursor-expired' | 'cursor-unknown'): void {
    try {
      listener.gap(reason)
    } catch (cause) {
      this.#config.onError(
        new TaskwireError('broker', `A listener of stream ${JSON.stringify(stream)} threw.`, { cause }),
      )
    }
  }

  #ttl(ttlMs: number, method: string): number {
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new TaskwireError('invalid-option', `${method} needs a positive ttlMs, got ${String(ttlMs)}.`)
    }
    return Math.ceil(ttlMs)
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError()
  }

  #unavailable(cause?: unknown): TaskwireHttpError {
    const detail = cause instanceof Error ? `: ${cause.message}` : ': not connected'
    return new TaskwireHttpError(503, `Redis is unavailable${detail}. Retry later.`, {
      code: 'broker-unavailable',
      retryAfterMs: this.#config.retryAfterMs,
      ...(cause === undefined ? {} : { cause }),
    })
  }

  #unexpected(command: string, reply: unknown): TaskwireError {
    return new TaskwireError(
      'broker',
      `Redis answered ${command} with ${String(JSON.stringify(reply)).slice(0, 200)}, which taskwire cannot read.`,
    )
  }

  #streamKey(stream: string): string {
    return `${this.#config.prefix}s:${stream}`
  }

  #checkpointKey(stream: string): string {
    return `${this.#config.prefix}c:${stream}`
  }

  #claimKey(key: string): string {
    return `${this.#config.prefix}k:${key}`
  }
}

/** Fails early on a server too old for the trim point that tells expired cursors. */
async function checkServerVersion(command: RedisConnection): Promise<void> {
  let info: unknown
  try {
    info = await command.sendCommand(['INFO', 'server'], { typeMapping: REPLY_TYPES })
  } catch (error) {
    // A server that refuses INFO (a restricted user) goes unchecked: a too old one fails at
    // the first script instead.
    if (isReplyError(error)) return
    throw error
  }
  const match = typeof info === 'string' ? /^redis_version:(\d+)\.(\d+)/m.exec(info) : null
  if (!match) return
  const [major, minor] = [Number(match[1]), Number(match[2])]
  const [needMajor, needMinor] = MIN_REDIS_VERSION
  if (major < needMajor || (major === needMajor && minor < needMinor)) {
    throw new TaskwireError(
      'broker',
      `taskwire/redis needs Redis ${needMajor}.${needMinor} or newer (exclusive ranges, XTRIM MINID); this server runs ${major}.${minor}.`,
    )
  }
}

/**
 * Creates a broker on Redis, so hubs in several processes share their streams: each event
 * is appended once to a Redis stream (its id is the entry id Redis assigns), every process
 * replays from and follows the same log, and claims, checkpoints and cancel channels live
 * in Redis too.
 *
 * A process holds two or three connections: commands (the `client` you give, or its own),
 * one that blocks on `XREAD` for every stream subscribed here (named `<prefix>reader`), and
 * one for pub/sub, opened by the first `listen`. Each append is one round trip (a script
 * that adds, trims by length and age, and pushes back the stream's expiry). While Redis
 * cannot be reached, calls fail at once with a 503 `broker-unavailable`, and subscriptions
 * resume where they were once it is back, told of a gap if the log trimmed events meanwhile.
 *
 * @param options - the server or client, the key prefix, the log bounds and the error sink
 * @returns the broker, once its connections are up
 * @throws {@link taskwire!TaskwireError} `invalid-option` for options that do not fit,
 *   `broker-unavailable` when Redis cannot be reached, `broker` when it is older than 6.2
 * @example
 * ```ts
 * import { createHub } from 'taskwire/server'
 * import { createRedisBroker } from 'taskwire/redis'
 *
 * const broker = await createRedisBroker({ url: process.env.REDIS_URL })
 * const hub = createHub({ broker })
 * // on shutdown: await hub.close(); await broker.close()
 * ```
 */
export async function createRedisBroker(options: RedisBrokerOptions = {}): Promise<RedisBroker> {
  const config = resolveRedisBrokerOptions(options)
  const connections = await openConnections(config)
  try {
    await checkServerVersion(connections.command)
  } catch (error) {
    await connections.close()
    if (error instanceof TaskwireError) throw error
    throw new TaskwireError('broker-unavailable', `Could not reach Redis: ${String(error)}.`, {
      cause: error,
    })
  }
  return new RedisStreamBroker(config, connections)
}
