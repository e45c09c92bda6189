import { type Envelope, initialRunState, type RunState, reduceRun, TaskwireError } from '../core/index.js'
import { createReplayLog, type ReplayLog } from './replay-log.js'
import type { Broker, BrokerReadResult, UnsequencedEvent } from './types.js'

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
   * entirely: its log and its folded state. A later reader of it sees an empty stream (and
   * a reader with a cursor gets a reset). This is what bounds memory when streams come
   * and go: one per run, job or execution. A forgotten stream that is published to again
   * counts its ids from `"1"` anew, so give each run its own stream id rather than reusing
   * one (the execution runner does).
   * @defaultValue `3_600_000` (1 hour)
   */
  idleStreamMs?: number | false | undefined
  /**
   * Most streams kept. Past it, the streams idle the longest (and without listeners) are
   * forgotten first, as with `idleStreamMs`. Memory is then bounded by about
   * `maxStreams × maxEvents` events.
   * @defaultValue `10_000`
   */
  maxStreams?: number | false | undefined
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
    now: options.now ?? DEFAULT_MEMORY_BROKER_OPTIONS.now,
    onError: options.onError ?? DEFAULT_MEMORY_BROKER_OPTIONS.onError,
  }
  for (const key of ['maxEvents', 'maxAgeMs', 'idleStreamMs', 'maxStreams'] as const) {
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
  log: ReplayLog
  state: RunState
  lastAppendMs: number
}

const DECIMAL = /^\d{1,15}$/
const SWEEP_INTERVAL_MS = 1000

/**
 * Creates the broker of one process: replay logs and folded states in memory, listeners
 * notified synchronously within `append`. Ids are decimal strings counting
 * from `"1"` in each stream. The default broker of `createHub()`.
 *
 * Memory stays bounded: each log keeps at most `maxEvents` events younger than `maxAgeMs`,
 * and whole streams are forgotten once idle for `idleStreamMs` or past `maxStreams`
 * (streams with listeners are kept). The check runs as events are appended, at most once a
 * second unless `maxStreams` is exceeded, so an idle broker holds no timer.
 *
 * @param options - the replay bounds, stream eviction, clock and error sink
 * @returns a broker
 * @throws {@link taskwire!TaskwireError} `invalid-option` for a bound that is not positive
 * @example
 * ```ts
 * const hub = createHub({ broker: createMemoryBroker({ maxEvents: 5000 }) })
 * ```
 */
export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker {
  const config = resolveMemoryBrokerOptions(options)
  // Insertion order is kept as least-recently-appended first, so eviction reads the front.
  const streams = new Map<string, StreamRecord>()
  // A Set per stream rather than mitt: removing the last listener removes the stream's key,
  // so streams that come and go leave nothing behind, and mitt's CommonJS typings need no
  // interop cast under NodeNext.
  const listeners = new Map<string, Set<(event: Envelope) => void>>()
  let closed = false
  let lastSweepMs = Number.NEGATIVE_INFINITY

  const assertOpen = (): void => {
    if (closed) throw new TaskwireError('broker', 'The memory broker is closed; create a new one.')
  }

  const hasListeners = (stream: string): boolean => listeners.has(stream)

  const sweep = (now: number): void => {
    const overCount = config.maxStreams !== false && streams.size > config.maxStreams
    if (!overCount && now - lastSweepMs < SWEEP_INTERVAL_MS) return
    lastSweepMs = now
    for (const [name, record] of streams) {
      const tooMany = config.maxStreams !== false && streams.size > config.maxStreams
      const idle = config.idleStreamMs !== false && now - record.lastAppendMs > config.idleStreamMs
      if (!tooMany && !idle) break
      if (!hasListeners(name)) streams.delete(name)
    }
  }

  const parseCursor = (afterId: string | null): number | undefined => {
    if (afterId === null || afterId === '') return 0
    return DECIMAL.test(afterId) ? Number(afterId) : undefined
  }

  return {
    async append(event: UnsequencedEvent): Promise<Envelope> {
      assertOpen()
      const now = config.now()
      let record = streams.get(event.stream)
      if (record) {
        streams.delete(event.stream)
      } else {
        record = {
          log: createReplayLog({ maxEvents: config.maxEvents, maxAgeMs: config.maxAgeMs, now: config.now }),
          state: initialRunState,
          lastAppendMs: now,
        }
      }
      streams.set(event.stream, record)
      record.lastAppendMs = now
      const envelope: Envelope = {
        type: event.type,
        stream: event.stream,
        id: String(record.log.lastSeq + 1),
        ts: event.ts,
        data: event.data,
      }
      record.log.append(envelope)
      record.state = reduceRun(record.state, envelope)
      sweep(now)
      const set = listeners.get(event.stream)
      // Copied, so a listener that unsubscribes while being called does not skip another.
      if (set) for (const listener of [...set]) listener(envelope)
      return envelope
    },

    async read(stream: string, afterId: string | null): Promise<BrokerReadResult> {
      assertOpen()
      const record = streams.get(stream)
      const cursor = parseCursor(afterId)
      if (cursor === undefined) return { events: [], expired: true }
      if (!record) return { events: [], expired: cursor > 0 }
      return record.log.after(cursor)
    },

    async state(stream: string): Promise<RunState> {
      assertOpen()
      return streams.get(stream)?.state ?? initialRunState
    },

    subscribe(stream: string, listener: (event: Envelope) => void): () => void {
      if (closed) return () => {}
      const handler = (event: Envelope): void => {
        try {
          listener(event)
        } catch (cause) {
          config.onError(
            new TaskwireError('broker', `A listener of stream ${JSON.stringify(stream)} threw.`, { cause }),
          )
        }
      }
      let set = listeners.get(stream)
      if (!set) {
        set = new Set()
        listeners.set(stream, set)
      }
      set.add(handler)
      return () => {
        const current = listeners.get(stream)
        if (!current?.delete(handler)) return
        if (current.size === 0) listeners.delete(stream)
      }
    },

    async close(): Promise<void> {
      closed = true
      streams.clear()
      listeners.clear()
    },
  }
}
