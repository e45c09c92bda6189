import { compareEventIds, TaskwireError, TaskwireHttpError } from '../core/index.js'
import { createReplayLog, type ReplayLog } from './replay-log.js'
import type {
  AppendedEvent,
  Broker,
  BrokerListener,
  BrokerReadResult,
  StoredEvent,
  StreamCheckpoint,
  UnsequencedEvent,
} from './types.js'

/** Options of {@link createMemoryBroker}. */
export interface MemoryBrokerOptions {
  /**
   * Most events kept per stream for replay; older ones are dropped first, and a reader
   * whose cursor falls before them gets a reset.
   * @defaultValue `1000`
   */
  maxEvents?: number | false | undefined
  /**
   * Oldest event kept per stream for replay, by age in milliseconds.
   * @defaultValue `900_000` (15 minutes)
   */
  maxAgeMs?: number | false | undefined
  /**
   * A stream that has had no event appended for this long and has no listener is forgotten
   * entirely: its log and its checkpoint. A later reader of it sees an empty stream (and
   * a reader with a cursor gets a reset). This is what bounds memory when streams come
   * and go: one per run, job or execution. A forgotten stream that is published to again
   * counts its ids from `"1"` anew, so give each run its own stream id rather than reusing
   * one (the execution runner does).
   * @defaultValue `3_600_000` (1 hour)
   */
  idleStreamMs?: number | false | undefined
  /**
   * Most streams kept. Past it, the stream without listeners that was active the longest
   * ago is forgotten to make room for a new one, as with `idleStreamMs`. When every stream
   * kept has listeners, an append to a new stream is refused with a 503 `broker-full`
   * rather than dropping anything: an event the broker accepted is never lost or renumbered.
   * @defaultValue `10_000`
   */
  maxStreams?: number | false | undefined
  /**
   * Most bytes of events kept for replay over all streams together, measured on each
   * event's serialized frame. Past it, the logs of the streams appended to the longest ago
   * are dropped first (their checkpoints stay, so their readers get a `stream.reset`),
   * then the oldest events of the stream being appended to. Memory held by the logs stays
   * within a small multiple of it (each event is kept as an object and as its frame).
   * @defaultValue `67_108_864` (64 MiB)
   */
  maxBytes?: number | false | undefined
  /**
   * The clock used to age events, in epoch milliseconds.
   * @defaultValue `Date.now`
   */
  now?: (() => number) | undefined
  /**
   * Receives the error a listener threw; the other listeners still get the event.
   * @defaultValue logs with `console.error`
   */
  onError?: ((error: TaskwireError) => void) | undefined
}

/** {@link MemoryBrokerOptions} with every default applied. */
export type ResolvedMemoryBrokerOptions = {
  [K in keyof MemoryBrokerOptions]-?: Exclude<MemoryBrokerOptions[K], undefined>
}

/** The defaults of {@link MemoryBrokerOptions}. */
export const DEFAULT_MEMORY_BROKER_OPTIONS: ResolvedMemoryBrokerOptions = Object.freeze({
  maxEvents: 1000,
  maxAgeMs: 15 * 60_000,
  idleStreamMs: 60 * 60_000,
  maxStreams: 10_000,
  maxBytes: 64 * 1024 * 1024,
  now: () => Date.now(),
  onError: (error: TaskwireError) => console.error(error),
})

/**
 * Applies the defaults to memory broker options and checks them.
 *
 * @param options - the options given
 * @returns every option, resolved
 * @throws {@link taskwire!TaskwireError} `invalid-option` when a bound is not a positive number
 */
export function resolveMemoryBrokerOptions(options: MemoryBrokerOptions = {}): ResolvedMemoryBrokerOptions {
  const resolved: ResolvedMemoryBrokerOptions = {
    maxEvents: options.maxEvents ?? DEFAULT_MEMORY_BROKER_OPTIONS.maxEvents,
    maxAgeMs: options.maxAgeMs ?? DEFAULT_MEMORY_BROKER_OPTIONS.maxAgeMs,
    idleStreamMs: options.idleStreamMs ?? DEFAULT_MEMORY_BROKER_OPTIONS.idleStreamMs,
    maxStreams: options.maxStreams ?? DEFAULT_MEMORY_BROKER_OPTIONS.maxStreams,
    maxBytes: options.maxBytes ?? DEFAULT_MEMORY_BROKER_OPTIONS.maxBytes,
    now: options.now ?? DEFAULT_MEMORY_BROKER_OPTIONS.now,
    onError: options.onError ?? DEFAULT_MEMORY_BROKER_OPTIONS.onError,
  }
  for (const key of ['maxEvents', 'maxAgeMs', 'idleStreamMs', 'maxStreams', 'maxBytes'] as const) {
    const value = resolved[key]
    if (value !== false && !(typeof value === 'number' && value > 0)) {
      throw new TaskwireError(
        'invalid-option',
        `${key} must be a positive number or false, got ${String(value)}.`,
      )
    }
  }
  return resolved
}

interface StreamRecord {
  readonly name: string
  /** The identity of this incarnation of the stream's log, the first part of its ids. */
  readonly epoch: string
  readonly log: ReplayLog<StoredEvent>
  /** The newest state the hub stored for the stream. */
  checkpoint: StreamCheckpoint | undefined
  /** The last append, or the moment its last listener left. */
  lastActiveMs: number
}

interface Claim {
  readonly value: string
  expiresAtMs: number
}

const SWEEP_INTERVAL_MS = 1000
const START = /^0+$/
const EPOCH_ID = /^(\d{1,40})-(\d{1,40})$/
const MAX_SEQ_DIGITS = 15

// Shared by every broker of the process, so a stream forgotten and created again, or served
// by a new broker after a restart in the same process, never reuses an epoch.
let lastEpoch = 0
const nextEpoch = (): string => {
  lastEpoch = Math.max(Date.now(), lastEpoch + 1)
  return String(lastEpoch)
}

const stripZeros = (digits: string): string => digits.replace(/^0+(?=\d)/, '')

type Cursor = { epoch: string; seq: number } | 'start' | 'unknown'

const parseCursor = (afterId: string | null): Cursor => {
  if (afterId === null || afterId === '' || START.test(afterId)) return 'start'
  const match = EPOCH_ID.exec(afterId)
  if (!match?.[1] || !match[2]) return 'unknown'
  // Zero-padded parts read as the id they pad, as compareEventIds orders them.
  const seq = stripZeros(match[2])
  if (seq.length > MAX_SEQ_DIGITS) return 'unknown'
  return { epoch: stripZeros(match[1]), seq: Number(seq) }
}

/**
 * Creates the broker of one process: replay logs, checkpoints, claims and channels in
 * memory, listeners told synchronously within `append`. Ids are `<epoch>-<seq>`: the epoch
 * names this incarnation of the stream's log (the time it was created, in milliseconds,
 * kept strictly increasing within the process), and the sequence counts from 1. A cursor
 * from another incarnation (before a restart, or from a stream forgotten and created again)
 * is never mistaken for one of this log: it reads as expired, so its reader gets a
 * `stream.reset`. The default broker of `createHub()`.
 *
 * Memory stays bounded whatever names and cursors callers send: reading or subscribing
 * creates nothing, each log keeps at most `maxEvents` events younger than `maxAgeMs`, all
 * logs together at most `maxBytes`, and whole streams without listeners are forgotten once
 * idle for `idleStreamMs` or to make room past `maxStreams`. Each of those checks costs
 * O(1) per event (or per evicted stream), and an idle broker holds no timer.
 *
 * @param options - the replay bounds, stream eviction, byte budget, clock and error sink
 * @returns a broker
 * @throws {@link taskwire!TaskwireError} `invalid-option` for a bound that is not positive
 * @example
 * ```ts
 * const hub = createHub({ broker: createMemoryBroker({ maxEvents: 5000 }) })
 * ```
 */
export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker {
  const config = resolveMemoryBrokerOptions(options)
  const streams = new Map<string, StreamRecord>()
  // Streams without listeners, least recently active first: the only ones eviction may take.
  const idle = new Map<string, StreamRecord>()
  // Streams whose log holds events, least recently appended first: the byte budget's order.
  const logged = new Map<string, StreamRecord>()
  // A Set per stream: removing the last listener removes the stream's key, so streams that
  // come and go leave nothing behind.
  const listeners = new Map<string, Set<BrokerListener>>()
  const claims = new Map<string, Claim>()
  const channels = new Map<string, Set<(message: string) => void>>()
  let bytes = 0
  let closed = false
  let lastSweepMs = Number.NEGATIVE_INFINITY
  let lastClaimSweepMs = Number.NEGATIVE_INFINITY

  const assertOpen = (): void => {
    if (closed) throw new TaskwireError('broker', 'The memory broker is closed; create a new one.')
  }

  /** Runs an operation on a log and keeps the byte total and the budget order in step. */
  const onLog = <T>(record: StreamRecord, operation: (log: ReplayLog<StoredEvent>) => T): T => {
    const before = record.log.bytes
    const result = operation(record.log)
    bytes += record.log.bytes - before
    if (record.log.size === 0) logged.delete(record.name)
    return result
  }

  const forget = (record: StreamRecord): void => {
    bytes -= record.log.bytes
    streams.delete(record.name)
    idle.delete(record.name)
    logged.delete(record.name)
  }

  const makeRoom = (): void => {
    if (config.maxStreams === false || streams.size < config.maxStreams) return
    const oldest = idle.values().next().value
    if (oldest === undefined) {
      throw new TaskwireHttpError(
        503,
        `The broker holds its maximum of ${config.maxStreams} streams and each has subscribers; raise maxStreams or retry later.`,
        { code: 'broker-full' },
      )
    }
    forget(oldest)
  }

  const sweepIdle = (now: number): void => {
    if (config.idleStreamMs === false || now - lastSweepMs < SWEEP_INTERVAL_MS) return
    lastSweepMs = now
    for (const record of idle.values()) {
      if (now - record.lastActiveMs <= config.idleStreamMs) break
      forget(record)
    }
  }

  const keepWithinBudget = (current: StreamRecord): void => {
    if (config.maxBytes === false) return
    while (bytes > config.maxBytes) {
      const oldest = logged.values().next().value
      if (oldest === undefined) return
      // Whole logs of other streams go first; the current stream loses its oldest events
      // last, and keeps its newest event whatever its size.
      if (oldest !== current) onLog(oldest, (log) => log.dropOldest(log.size))
      else if (current.log.size > 1) onLog(current, (log) => log.dropOldest(1))
      else return
    }
  }

  const touch = (record: StreamRecord, now: number): void => {
    record.lastActiveMs = now
    if (listeners.has(record.name)) return
    idle.delete(record.name)
    idle.set(record.name, record)
  }

  const read = (stream: string, afterId: string | null): BrokerReadResult => {
    const record = streams.get(stream)
    const cursor = parseCursor(afterId)
    if (cursor === 'start') {
      if (!record) return { events: [], expired: false }
      const result = onLog(record, (log) => log.after(0))
      return result.expired ? { ...result, reason: 'cursor-expired' } : result
    }
    if (cursor === 'unknown' || !record || record.epoch !== cursor.epoch) {
      return { events: [], expired: true, reason: 'cursor-unknown' }
    }
    const result = onLog(record, (log) => log.after(cursor.seq))
    if (!result.expired) return result
    return { ...result, reason: cursor.seq > record.log.lastSeq ? 'cursor-unknown' : 'cursor-expired' }
  }

  const listenerThrew = (stream: string, cause: unknown): void => {
    config.onError(
      new TaskwireError('broker', `A listener of stream ${JSON.stringify(stream)} threw.`, { cause }),
    )
  }

  /** Calls a listener, reporting what it throws so the other listeners still hear. */
  const tell = (stream: string, call: () => void): void => {
    try {
      call()
    } catch (cause) {
      listenerThrew(stream, cause)
    }
  }

  /** {@link tell} for an appended event, without a closure per listener and event. */
  const deliver = (stream: string, listener: BrokerListener, event: StoredEvent): void => {
    try {
      listener.event(event)
    } catch (cause) {
      listenerThrew(stream, cause)
    }
  }

  const liveClaim = (key: string, now: number): Claim | undefined => {
    const claim = claims.get(key)
    if (claim && claim.expiresAtMs <= now) {
      claims.delete(key)
      return undefined
    }
    return claim
  }

  const sweepClaims = (now: number): void => {
    if (now - lastClaimSweepMs < SWEEP_INTERVAL_MS) return
    lastClaimSweepMs = now
    for (const [key, claim] of claims) if (claim.expiresAtMs <= now) claims.delete(key)
  }

  return {
    async append(event: UnsequencedEvent): Promise<AppendedEvent> {
      assertOpen()
      const now = config.now()
      let record = streams.get(event.stream)
      if (!record) {
        makeRoom()
        record = {
          name: event.stream,
          epoch: nextEpoch(),
          log: createReplayLog<StoredEvent>({
            maxEvents: config.maxEvents,
            maxAgeMs: config.maxAgeMs,
            now: config.now,
          }),
          checkpoint: undefined,
          lastActiveMs: now,
        }
        streams.set(event.stream, record)
      }
      touch(record, now)
      const stored: StoredEvent = {
        type: event.type,
        stream: event.stream,
        id: `${record.epoch}-${record.log.lastSeq + 1}`,
        ts: event.ts,
        data: event.data,
        dataJson: event.dataJson,
      }
      const seq = record.log.lastSeq
      const log = record.log
      const before = log.bytes
      log.append(stored, event.bytes ?? event.dataJson.length)
      bytes += log.bytes - before
      logged.delete(record.name)
      if (log.size > 0) logged.set(record.name, record)
      keepWithinBudget(record)
      sweepIdle(now)
      const set = listeners.get(event.stream)
      if (set?.size === 1) {
        // The usual case, one hub following the stream: no copy of the set.
        for (const listener of set) deliver(event.stream, listener, stored)
      } else if (set) {
        // Copied, so a listener that unsubscribes while being called does not skip another.
        for (const listener of [...set]) deliver(event.stream, listener, stored)
      }
      return { ...stored, previousId: seq === 0 ? null : `${record.epoch}-${seq}` }
    },

    async read(stream: string, afterId: string | null): Promise<BrokerReadResult> {
      assertOpen()
      return read(stream, afterId)
    },

    async subscribe(stream: string, afterId: string | null, listener: BrokerListener): Promise<() => void> {
      assertOpen()
      // Replay and registration happen in one synchronous step: no append can fall between.
      let replay = read(stream, afterId)
      if (afterId !== null && replay.expired) {
        const reason = replay.reason ?? 'cursor-expired'
        tell(stream, () => listener.gap(reason))
        // Delivery goes on with the oldest event still retained.
        replay = read(stream, null)
      }
      for (const event of replay.events) tell(stream, () => listener.event(event))
      let set = listeners.get(stream)
      if (!set) {
        set = new Set()
        listeners.set(stream, set)
        idle.delete(stream)
      }
      // A wrapper per subscription, so the same listener object subscribed twice is two.
      const entry: BrokerListener = { event: (e) => listener.event(e), gap: (r) => listener.gap(r) }
      set.add(entry)
      return () => {
        const current = listeners.get(stream)
        if (!current?.delete(entry) || current.size > 0) return
        listeners.delete(stream)
        const record = streams.get(stream)
        if (record && !closed) touch(record, config.now())
      }
    },

    async loadCheckpoint(stream: string): Promise<StreamCheckpoint | null> {
      assertOpen()
      return streams.get(stream)?.checkpoint ?? null
    },

    async saveCheckpoint(stream: string, checkpoint: StreamCheckpoint): Promise<void> {
      assertOpen()
      const record = streams.get(stream)
      const id = checkpoint.state.lastEventId
      // A checkpoint lives with its log: none for a stream this broker does not hold, or
      // for an older incarnation of it.
      if (!record || id === null || parseCursor(id) === 'unknown') return
      const cursor = parseCursor(id)
      if (typeof cursor !== 'object' || cursor.epoch !== record.epoch) return
      const stored = record.checkpoint?.state.lastEventId
      if (stored && !(compareEventIds(id, stored) > 0)) return
      record.checkpoint = checkpoint
    },

    async claim(key: string, value: string, ttlMs: number): Promise<string> {
      assertOpen()
      const now = config.now()
      sweepClaims(now)
      const held = liveClaim(key, now)
      if (held) return held.value
      claims.set(key, { value, expiresAtMs: now + ttlMs })
      return value
    },

    async lookup(key: string): Promise<string | null> {
      assertOpen()
      return liveClaim(key, config.now())?.value ?? null
    },

    async renew(key: string, value: string, ttlMs: number): Promise<boolean> {
      assertOpen()
      const now = config.now()
      const held = liveClaim(key, now)
      if (held?.value !== value) return false
      if (ttlMs <= 0) claims.delete(key)
      else held.expiresAtMs = now + ttlMs
      return true
    },

    async notify(channel: string, message: string): Promise<number> {
      assertOpen()
      const set = channels.get(channel)
      if (!set) return 0
      for (const listener of [...set]) tell(channel, () => listener(message))
      // Every listener is in this one process.
      return 1
    },

    async listen(channel: string, listener: (message: string) => void): Promise<() => void> {
      assertOpen()
      let set = channels.get(channel)
      if (!set) {
        set = new Set()
        channels.set(channel, set)
      }
      const entry = (message: string): void => listener(message)
      set.add(entry)
      return () => {
        const current = channels.get(channel)
        if (current?.delete(entry) && current.size === 0) channels.delete(channel)
      }
    },

    async close(): Promise<void> {
      closed = true
      streams.clear()
      idle.clear()
      logged.clear()
      listeners.clear()
      claims.clear()
      channels.clear()
      bytes = 0
    },
  }
}
