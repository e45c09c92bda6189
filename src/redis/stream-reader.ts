import { compareEventIds, TaskwireError } from '../core/index.js'
import type { BrokerListener } from '../server/index.js'
import { isReplyError } from './connections.js'
import { entriesOf, type RawEntry, streamsOf, toStoredEvent } from './entries.js'
import type { OwnedRedisConnection } from './options.js'
import { REPLY_TYPES, runScript, TAIL } from './scripts.js'
import { classifyCursor, numberOf, trimPoint, ZERO_ID } from './stream-id.js'

/** Most entries read per stream and round trip. */
export const READ_COUNT = 100

/** Most streams checked in one script call, so one call stays short for the server. */
const CHECK_BATCH = 100

/** The longest pause after a failed read that was not a lost connection. */
const MAX_RETRY_DELAY_MS = 5000

/** One subscription: its listener and the last id it was given. */
interface ReaderSubscription {
  readonly listener: BrokerListener
  /** The last id delivered (or skipped over by a gap); only ever moves forward. */
  lastId: string
  /** False once unsubscribed, so a delivery loop already running skips it. */
  active: boolean
}

/** A stream with subscriptions in this process. */
interface Followed {
  readonly stream: string
  readonly key: string
  readonly subscriptions: Set<ReaderSubscription>
  /**
   * The next read of this stream must be a checked one (the script that also reads the trim
   * point): a subscription arrived, the connection came back, or the last read was a full
   * batch, so the reader may lag behind what the log trims.
   */
  checkDue: boolean
}

/** What a {@link StreamReader} needs. */
export interface StreamReaderOptions {
  /** Its own connection, which spends most of its time blocked in `XREAD`. */
  readonly connection: OwnedRedisConnection
  /** The key that {@link StreamReaderOptions.wake} appends to, read in every `XREAD`. */
  readonly wakeKey: string
  /** Ends the current `XREAD` by appending to `wakeKey` from another connection. */
  readonly wake: () => Promise<void>
  /** The `BLOCK` timeout of each `XREAD`. */
  readonly blockMs: number
  /** Where listener errors, entries that are not events and failed reads go. */
  readonly onError: (error: TaskwireError) => void
}

/** Counts of what a reader holds. */
export interface StreamReaderStats {
  /** Streams followed: those with at least one subscription. */
  streams: number
  /** Subscriptions over all streams. */
  subscriptions: number
}

const minCursor = (followed: Followed): string => {
  let min: string | undefined
  for (const subscription of followed.subscriptions) {
    if (min === undefined || compareEventIds(subscription.lastId, min) < 0) min = subscription.lastId
  }
  return min ?? ZERO_ID
}

const isAfter = (a: string, b: string): boolean => compareEventIds(a, b) > 0

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

/**
 * Delivers the events of every stream subscribed in this process over one connection, in
 * one loop: `XREAD COUNT n BLOCK blockMs STREAMS <each stream> <wake key> <each cursor>
 * <wake cursor>`, each stream read from the oldest cursor among its subscriptions, and each
 * subscription given only the events after its own cursor.
 *
 * A subscription that needs events older than the current read (a new stream, or an older
 * cursor) wakes the blocked read with an entry on the wake key, appended from the command
 * connection. Reads that may have fallen behind the log's trimming (a new subscription, a
 * reconnection, a full batch) go through a script that also reads the trim point, so a
 * subscription whose next event was trimmed away is told of the gap.
 */
export class StreamReader {
  readonly #options: StreamReaderOptions
  readonly #followed = new Map<string, Followed>()
  /** The blocking read in flight: each key with the cursor it was read from. */
  #blocked: { cursors: Map<string, string>; woken: boolean } | undefined
  #wakeId = ZERO_ID
  #closed = false
  /** Ends the current pause: no stream to read, waiting for a reconnection, or a backoff. */
  #resume: (() => void) | undefined
  readonly #done: Promise<void>

  /**
   * Starts the loop; it idles without a command until the first subscription.
   *
   * @param options - the connection, the wake key and how to wake it, the timeout, the error sink
   */
  constructor(options: StreamReaderOptions) {
    this.#options = options
    this.#done = this.#run()
  }

  /**
   * Adds a subscription. Its first events come from a checked read, from `lastId` on.
   *
   * @param stream - the stream
   * @param key - the stream's key
   * @param lastId - the last id the subscriber has (canonical; `0-0` for the start)
   * @param listener - told of each event after `lastId`, and of gaps
   * @returns a function that ends the subscription
   */
  add(stream: string, key: string, lastId: string, listener: BrokerListener): () => void {
    let followed = this.#followed.get(key)
    if (!followed) {
      followed = { stream, key, subscriptions: new Set(), checkDue: true }
      this.#followed.set(key, followed)
    }
    const subscription: ReaderSubscription = { listener, lastId, active: true }
    followed.subscriptions.add(subscription)
    followed.checkDue = true
    this.#wakeUp()
    const blocked = this.#blocked
    if (blocked && !blocked.woken) {
      // The read in flight serves this subscription only if it reads the stream from a
      // cursor at or before this one; otherwise it must end now rather than at its timeout.
      const at = blocked.cursors.get(key)
      if (at === undefined || compareEventIds(lastId, at) < 0) {
        blocked.woken = true
        this.#options.wake().catch((error: unknown) => this.#reportFailure(error))
      }
    }
    const owner = followed
    return () => {
      if (!subscription.active) return
      subscription.active = false
      owner.subscriptions.delete(subscription)
      if (owner.subscriptions.size === 0 && this.#followed.get(key) === owner) this.#followed.delete(key)
    }
  }

  /** Counts of streams and subscriptions held. */
  stats(): StreamReaderStats {
    let subscriptions = 0
    for (const followed of this.#followed.values()) subscriptions += followed.subscriptions.size
    return { streams: this.#followed.size, subscriptions }
  }

  /**
   * Stops the loop and forgets every subscription. The caller destroys the connection,
   * which ends a read in flight.
   *
   * @returns resolves once the loop has returned
   */
  async close(): Promise<void> {
    this.#closed = true
    for (const followed of this.#followed.values()) {
      for (const subscription of followed.subscriptions) subscription.active = false
    }
    this.#followed.clear()
    this.#wakeUp()
    await this.#done
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#closed) {
      const connection = this.#options.connection
      if (this.#followed.size === 0) {
        // Nothing to read: no command at all until a subscription arrives.
        await this.#pause()
        continue
      }
      if (!connection.isReady) {
        await this.#pause({ untilReady: true })
        continue
      }
      try {
        const due = [...this.#followed.values()].filter((followed) => followed.checkDue)
        if (due.length > 0) await this.#checkedRead(due.slice(0, CHECK_BATCH))
        else await this.#blockingRead()
        failures = 0
      } catch (error) {
        if (this.#closed) return
        // Every stream resumes from its subscriptions' cursors with a checked read: whatever
        // was appended meanwhile is delivered once, and what was trimmed meanwhile is a gap.
        for (const followed of this.#followed.values()) followed.checkDue = true
        this.#reportFailure(error)
        await this.#pause({ ms: Math.min(50 * 2 ** failures, MAX_RETRY_DELAY_MS) })
        failures = Math.min(failures + 1, 10)
      }
    }
  }

  /** Reads each stream from its oldest cursor with the trim point, and tells gaps. */
  async #checkedRead(due: Followed[]): Promise<void> {
    const cursors = due.map(minCursor)
    const reply = await runScript(
      this.#options.connection,
      TAIL,
      due.map((followed) => followed.key),
      [String(READ_COUNT), ...cursors],
    )
    const results = Array.isArray(reply) ? reply : []
    for (const [index, followed] of due.entries()) {
      const result: unknown = results[index]
      const cursor = cursors[index]
      if (!Array.isArray(result) || cursor === undefined) continue
      if (this.#followed.get(followed.key) !== followed) continue
      // To the back of the line: streams still due after this read wait for the others.
      this.#followed.delete(followed.key)
      this.#followed.set(followed.key, followed)
      const first = text(result[1])
      const bounds = { last: text(result[0]) ?? ZERO_ID, first: first === '' ? undefined : first }
      const entries = entriesOf(result[3])
      // Cleared before any listener runs: one that subscribes again sets it anew.
      followed.checkDue = false
      let behind = false
      for (const subscription of [...followed.subscriptions]) {
        if (!subscription.active) continue
        // Every cursor here is an id delivered, checked at subscribe time, or a trim point.
        const status = classifyCursor(subscription.lastId, bounds, true)
        if (status !== 'ok') {
          // Unknown: past the log's newest id or numbered as another incarnation's, the log
          // was lost and started again (a server restarted without persistence, an idle
          // stream that expired). Expired: the reader fell behind the trimming.
          subscription.lastId = trimPoint(bounds)
          this.#tell(followed, () => subscription.listener.gap(status))
        }
        // Arrived while the script ran, from an older cursor: served by the next read.
        if (compareEventIds(subscription.lastId, cursor) < 0) behind = true
      }
      this.#deliver(followed, cursor, entries)
      if (behind || entries.length >= READ_COUNT) followed.checkDue = true
    }
  }

  /** Waits for new entries of every followed stream, or for a wake. */
  async #blockingRead(): Promise<void> {
    const followed = [...this.#followed.values()]
    const cursors = followed.map(minCursor)
    const keys = followed.map((f) => f.key)
    this.#blocked = { cursors: new Map(keys.map((key, i) => [key, cursors[i] ?? ZERO_ID])), woken: false }
    let reply: unknown
    try {
      reply = await this.#options.connection.sendCommand(
        [
          'XREAD',
          'COUNT',
          String(READ_COUNT),
          'BLOCK',
          String(this.#options.blockMs),
          'STREAMS',
          ...keys,
          this.#options.wakeKey,
          ...cursors,
          this.#wakeId,
        ],
        { typeMapping: REPLY_TYPES },
      )
    } finally {
      this.#blocked = undefined
    }
    const index = new Map(keys.map((key, i) => [key, i]))
    for (const [key, entries] of streamsOf(reply)) {
      if (key === this.#options.wakeKey) {
        const last = entries[entries.length - 1]
        if (last && isAfter(last.id, this.#wakeId)) this.#wakeId = last.id
        continue
      }
      const i = index.get(key)
      const target = i === undefined ? undefined : followed[i]
      const cursor = i === undefined ? undefined : cursors[i]
      // A stream unsubscribed and subscribed again meanwhile is a new record, read afresh.
      if (!target || cursor === undefined || this.#followed.get(key) !== target) continue
      this.#deliver(target, cursor, entries)
      if (entries.length >= READ_COUNT) target.checkDue = true
    }
  }

  /**
   * Gives each subscription the entries after its own cursor. Only subscriptions whose
   * cursor is at or after the read's cursor are served: the read holds all they miss.
   *
   * Entry numbers make each delivery checked too: the entry after a cursor numbered `n` is
   * numbered `n + 1`, so a larger number means entries were trimmed before this read got
   * them, and a smaller one means the log started again (its key expired or was lost).
   */
  #deliver(followed: Followed, cursor: string, entries: readonly RawEntry[]): void {
    if (entries.length === 0) return
    const served = [...followed.subscriptions].filter(
      (subscription) => subscription.active && compareEventIds(subscription.lastId, cursor) >= 0,
    )
    for (const entry of entries) {
      const event = toStoredEvent(followed.stream, entry)
      if (event instanceof TaskwireError) this.#options.onError(event)
      const number = numberOf(entry.id)
      for (const subscription of served) {
        if (!subscription.active || !isAfter(entry.id, subscription.lastId)) continue
        const expected = numberOf(subscription.lastId) + 1n
        if (number !== expected) {
          const reason = number > expected ? 'cursor-expired' : 'cursor-unknown'
          this.#tell(followed, () => subscription.listener.gap(reason))
        }
        subscription.lastId = entry.id
        if (subscription.active && !(event instanceof TaskwireError)) {
          this.#tell(followed, () => subscription.listener.event(event))
        }
      }
    }
  }

  #tell(followed: Followed, call: () => void): void {
    try {
      call()
    } catch (cause) {
      this.#options.onError(
        new TaskwireError('broker', `A listener of stream ${JSON.stringify(followed.stream)} threw.`, {
          cause,
        }),
      )
    }
  }

  /** Reports an error Redis answered; lost connections are reported by the connections. */
  #reportFailure(error: unknown): void {
    if (this.#closed || !isReplyError(error)) return
    this.#options.onError(
      new TaskwireError(
        'broker',
        `Reading the streams from Redis failed: ${(error as Error).message}. Retrying.`,
        { cause: error },
      ),
    )
  }

  #wakeUp(): void {
    const resume = this.#resume
    this.#resume = undefined
    resume?.()
  }

  /**
   * Waits until woken (a subscription arrived, or close), and until the connection is
   * ready again or a delay has passed, as asked.
   */
  #pause(options: { untilReady?: boolean; ms?: number } = {}): Promise<void> {
    return new Promise((resolve) => {
      if (this.#closed) return resolve()
      const connection = this.#options.connection
      let timer: ReturnType<typeof setTimeout> | undefined
      const finish = (): void => {
        if (timer !== undefined) clearTimeout(timer)
        if (options.untilReady) connection.off('ready', finish)
        if (this.#resume === finish) this.#resume = undefined
        resolve()
      }
      this.#resume = finish
      if (options.untilReady) connection.on('ready', finish)
      if (options.ms !== undefined) timer = setTimeout(finish, options.ms)
    })
  }
}
