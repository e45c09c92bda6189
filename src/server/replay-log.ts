import type { Envelope } from '../core/index.js'

/** Options of {@link createReplayLog}. */
export interface ReplayLogOptions {
  /** Most events kept; older ones are dropped first. `false` keeps any number. */
  maxEvents: number | false
  /** Oldest event kept, by age in milliseconds. `false` keeps events of any age. */
  maxAgeMs: number | false
  /** The clock, in epoch milliseconds. */
  now: () => number
}

/** What {@link ReplayLog.after} returns. */
export interface ReplayLogRead<E extends Envelope = Envelope> {
  /** The retained events after the cursor. */
  events: E[]
  /** True when events after the cursor were dropped, or the cursor is beyond the newest. */
  expired: boolean
}

/**
 * The replay log of one stream: events numbered 1, 2, 3 ... without gaps, of which the
 * newest are kept within a count and an age bound.
 */
export interface ReplayLog<E extends Envelope = Envelope> {
  /** The sequence number of the newest event ever appended (0 before any). */
  readonly lastSeq: number
  /** How many events are retained. */
  readonly size: number
  /** The sum of the sizes given to {@link ReplayLog.append} for the retained events. */
  readonly bytes: number
  /**
   * Appends the event numbered `lastSeq + 1`.
   *
   * @param event - the event, its id already set to the new sequence number
   * @param bytes - its size, counted in {@link ReplayLog.bytes} while it is retained
   */
  append(event: E, bytes?: number): void
  /**
   * Reads the retained events after a sequence number.
   *
   * @param seq - the last sequence number the reader has (0 for none)
   * @returns the events and whether some after `seq` are gone
   */
  after(seq: number): ReplayLogRead<E>
  /** Drops events past the age bound now rather than at the next append or read. */
  trim(): void
  /**
   * Drops the oldest retained events, for a budget shared by many logs; readers whose
   * cursor falls before what remains then read `expired`.
   *
   * @param count - how many to drop (all when larger than the size)
   */
  dropOldest(count: number): void
}

/**
 * Creates the bounded replay log of one stream. Events live in an array read from a head
 * index, so dropping the oldest is O(1); the array is compacted once half of it is dead.
 *
 * @param options - the bounds and the clock
 * @returns an empty log
 */
export function createReplayLog<E extends Envelope = Envelope>(options: ReplayLogOptions): ReplayLog<E> {
  let events: E[] = []
  let times: number[] = []
  let sizes: number[] = []
  let head = 0
  let lastSeq = 0
  let bytes = 0

  const firstSeq = (): number => lastSeq - (events.length - head) + 1

  const dropHead = (count: number): void => {
    const end = Math.min(head + count, events.length)
    for (let i = head; i < end; i++) bytes -= sizes[i] ?? 0
    head = end
    if (head === events.length) {
      events = []
      times = []
      sizes = []
      head = 0
    } else if (head > 64 && head * 2 > events.length) {
      events = events.slice(head)
      times = times.slice(head)
      sizes = sizes.slice(head)
      head = 0
    }
  }

  const trim = (): void => trimAt(options.now())

  function trimAt(now: number): void {
    if (options.maxAgeMs !== false) {
      const oldest = now - options.maxAgeMs
      let drop = 0
      while (head + drop < times.length && (times[head + drop] ?? 0) < oldest) drop++
      if (drop > 0) dropHead(drop)
    }
  }

  return {
    get lastSeq() {
      return lastSeq
    },
    get size() {
      return events.length - head
    },
    get bytes() {
      return bytes
    },
    append(event, size = 0) {
      const now = options.now()
      lastSeq++
      events.push(event)
      times.push(now)
      sizes.push(size)
      bytes += size
      if (options.maxEvents !== false && events.length - head > options.maxEvents) {
        dropHead(events.length - head - options.maxEvents)
      }
      trimAt(now)
    },
    after(seq) {
      trim()
      if (seq > lastSeq) return { events: [], expired: true }
      const first = firstSeq()
      if (seq < first - 1) return { events: events.slice(head), expired: true }
      return { events: events.slice(head + (seq - first + 1)), expired: false }
    },
    trim,
    dropOldest(count) {
      if (count > 0) dropHead(count)
    },
  }
}
