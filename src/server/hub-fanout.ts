import { type Envelope, type Framing, isSeenEventId, TaskwireError } from '../core/index.js'
import type { FrameCache } from './frame-cache.js'
import { createHeartbeat } from './heartbeat.js'
import type { Slots } from './hub-slots.js'
import type { StateKeeper } from './hub-state.js'
import type { EndWatcher } from './subscription.js'
import { framesThroughTerminal } from './through-terminal.js'
import type { Broker, StoredEvent, SubscriberSink, SubscriptionEndReason } from './types.js'

/** The heartbeat frame: a comment, which readers ignore (WHATWG HTML §9.2.6). */
const HEARTBEAT_FRAME = ': hb\n\n'

/**
 * Past this many characters of frames waiting for the end of the turn, a stream's batch is
 * written at once, so a publisher that never yields cannot grow it without bound.
 */
const FLUSH_NOW_CHARS = 64 * 1024

// A macrotask, so every event published in one turn (even awaited one after another) joins
// one batch; setTimeout where setImmediate does not exist (browsers, Deno, workers).
const scheduleTurn: (task: () => void) => void =
  typeof globalThis.setImmediate === 'function'
    ? (task) => {
        globalThis.setImmediate(task)
      }
    : (task) => {
        setTimeout(task, 0)
      }

/**
 * The events a subscriber keeps before it starts, when it has kept none: shared, so the
 * many subscribers that keep nothing allocate nothing (a new array is made on the first).
 */
const NOTHING_KEPT: Envelope[] = []

/**
 * The subscribers of one stream in this process, and the one broker subscription that
 * feeds them. It lives while the stream has subscribers.
 */
export interface StreamEntry {
  /** The stream. */
  readonly stream: string
  /** Its subscribers. */
  readonly subs: Set<Sub>
  /** Resolves once the broker subscription is in place; rejects when it could not be. */
  readonly opened: Promise<void>
  /**
   * The snapshot and reset frames of the state last served, by framing and kind. Kept on
   * the entry, so what it holds is bounded by the connection limits whatever stream names
   * callers ask for.
   */
  stateFrames: { state: object; frames: Map<string, string> } | undefined
}

interface Entry extends StreamEntry {
  opened: Promise<void>
  unlisten: (() => void) | undefined
  unpin: () => void
  closed: boolean
  pending: StoredEvent[]
  pendingChars: number
  scheduled: boolean
  flushing: boolean
  /** The id of the last event written out, which every subscriber that took it now has. */
  fannedId: string | null
}

/** One admitted subscriber: admitted, then live once started, then ended. */
export interface Sub {
  /** The stream. */
  readonly stream: string
  /** The caller key its connection slot counts against. */
  readonly key: string | undefined
  /** How its frames name their event. */
  readonly framing: Framing
  /** Its stream's entry. */
  readonly entry: StreamEntry
  /** Where it is in its life. */
  phase: 'admitted' | 'live' | 'ended'
  /** Where it writes, once started. */
  sink: SubscriberSink | undefined
  /** The newest id it has (or, before start, will have after its first write). */
  lastId: string | null
  /** The snapshot, reset or replay frames prepared at subscribe, written by start. */
  initial: string
  /** True when `initial` ends the stream. */
  initialTerminal: boolean
  /** Live events that arrived before start. */
  buffer: Envelope[]
  /** Characters of frames in `buffer`. */
  bufferChars: number
  /** Bytes of a first replay the connection may hold on top of the high-water mark. */
  allowance: number
  /** What its sink had delivered to the network after the last heartbeat, or -1. */
  delivered: number
  /** Why it ended abnormally, for a sink that arrives after the end. */
  endError: TaskwireError | undefined
  /** Why it ended, once it has. */
  endReason: SubscriptionEndReason | undefined
  /** Told when it ends: its `Subscription`. */
  watcher: EndWatcher | undefined
}

/** What the fan-out needs from its hub. */
export interface FanOutOptions {
  /** The broker, for one subscription per stream with subscribers. */
  broker: Broker
  /** Where stream states are folded; the fan-out feeds it live events. */
  keeper: StateKeeper
  /** The hub's connection slots, freed as subscribers end. */
  slots: Slots
  /** The frame cache. */
  frames: FrameCache
  /** Whether an event type ends a stream. */
  isTerminal: (type: string) => boolean
  /** The hub's framing, by which a batch's size is measured. */
  framing: Framing
  /** The `retry:` frame written first, or empty. */
  retryFrame: string
  /** Buffered bytes past which a subscriber is a slow consumer, or false. */
  highWaterMarkBytes: number | false
  /** The heartbeat interval, or false. */
  heartbeatMs: number | false
  /** Reports errors. */
  report: (error: TaskwireError) => void
}

/**
 * Fans the events of each stream out to its subscribers in this process: one broker
 * subscription per stream, frames of one turn joined into one write per subscriber, a
 * subscriber's life from admission (its first frames prepared, live events kept) to live
 * writes with a high-water mark, a heartbeat, and its end.
 */
export interface FanOut {
  /** The streams with subscribers. */
  readonly entries: ReadonlyMap<string, StreamEntry>
  /** Broker subscriptions held (one per stream with subscribers). */
  readonly listeners: number
  /** True while the heartbeat timer runs. */
  readonly beating: boolean
  /**
   * Admits a subscriber to a stream whose slot is taken, opening the stream's broker
   * subscription if it is the first here. Await `sub.entry.opened` before preparing it.
   *
   * @param stream - the stream
   * @param key - the caller key the slot was taken for
   * @param framing - how its frames name their event
   * @returns the subscriber
   */
  admit(stream: string, key: string | undefined, framing: Framing): Sub
  /**
   * Starts writing: `retry:`, the prepared first frames, the events kept meanwhile, then
   * live frames.
   *
   * @param sub - the subscriber
   * @param sink - where to write
   */
  start(sub: Sub, sink: SubscriberSink): void
  /**
   * Ends a subscriber, frees its slot and, with its stream's last subscriber, the broker
   * subscription.
   *
   * @param sub - the subscriber
   * @param reason - why
   * @param error - the error its sink ends with, for an abnormal end
   */
  end(sub: Sub, reason: SubscriptionEndReason, error?: TaskwireError): void
  /** Writes every batch still waiting for the end of the turn. */
  flushAll(): void
  /** Stops the heartbeat. */
  stop(): void
}

/**
 * Creates the fan-out of a hub.
 *
 * @param options - the broker, keeper, slots, frames and timings
 * @returns the fan-out
 */
export function createFanOut(options: FanOutOptions): FanOut {
  const { broker, keeper, slots, frames, isTerminal, retryFrame, report } = options
  const hwm = options.highWaterMarkBytes
  const entries = new Map<string, Entry>()
  let listeners = 0

  // Whether a held response was reported: once per hub, as a setup problem is everywhere.
  let heldReported = false
  const heartbeat = createHeartbeat<Sub>({
    intervalMs: options.heartbeatMs,
    beat: (sub) => {
      if (heldReported) {
        write(sub, HEARTBEAT_FRAME)
        return
      }
      // The last heartbeat, at least, was written since; if none of it reached the network
      // in a whole interval, something between the hub and the socket holds the stream.
      const delivered = sub.sink?.deliveredBytes?.() ?? -1
      if (delivered !== -1 && delivered === sub.delivered) {
        heldReported = true
        report(
          new TaskwireError(
            'response-buffered',
            `Nothing written to a response of ${JSON.stringify(sub.stream)} reached its socket in ${String(options.heartbeatMs)} ms: a compression middleware or another wrapper of the response is buffering the stream. Leave text/event-stream responses uncompressed (taskwire sends Cache-Control: no-transform, which the compression package honours).`,
          ),
        )
      }
      write(sub, HEARTBEAT_FRAME)
      sub.delivered = sub.sink?.deliveredBytes?.() ?? -1
    },
  })

  const open = (stream: string): Entry => {
    const entry: Entry = {
      stream,
      subs: new Set(),
      opened: Promise.resolve(),
      unlisten: undefined,
      unpin: keeper.pin(stream),
      closed: false,
      pending: [],
      pendingChars: 0,
      fannedId: null,
      scheduled: false,
      flushing: false,
      stateFrames: undefined,
    }
    entries.set(stream, entry)
    entry.opened = (async () => {
      // Follow the log from the state the keeper folded, so the fold and the subscribers
      // see every later event exactly once; subscribers prepared later replay from their
      // own cursors and drop what they see twice by id.
      const { state } = await keeper.state(stream)
      const unlisten = await broker.subscribe(stream, state.lastEventId, {
        event: (event) => receive(entry, event),
        gap: () => lost(entry),
      })
      listeners++
      const release = (): void => {
        listeners--
        unlisten()
      }
      if (entry.closed) release()
      else entry.unlisten = release
    })()
    // A subscriber awaiting `opened` sees the failure; this keeps it from being unhandled.
    entry.opened.catch(() => undefined)
    return entry
  }

  const close = (entry: Entry): void => {
    if (entry.closed) return
    entry.closed = true
    if (entries.get(entry.stream) === entry) entries.delete(entry.stream)
    entry.pending = []
    entry.unpin()
    entry.unlisten?.()
    entry.unlisten = undefined
  }

  /** The log lost events this process had not delivered: its subscribers start over. */
  const lost = (entry: Entry): void => {
    keeper.forget(entry.stream)
    const error = new TaskwireError(
      'stream-closed',
      `Events of ${JSON.stringify(entry.stream)} were lost before they reached this server; reconnect for a reset.`,
    )
    report(error)
    for (const sub of [...entry.subs]) end(sub, 'gap', error)
  }

  const receive = (entry: Entry, event: StoredEvent): void => {
    if (entry.closed) return
    keeper.follow(event)
    entry.pending.push(event)
    entry.pendingChars += frames.frame(event, options.framing).length
    // Never flush inside a flush (a sink or onError that publishes synchronously): the outer
    // loop would then write an older batch after a newer one.
    if (entry.pendingChars >= FLUSH_NOW_CHARS && !entry.flushing) {
      flush(entry)
    } else if (!entry.scheduled) {
      entry.scheduled = true
      dirty.push(entry)
      // One callback a turn for every stream that received events, not one per stream: with
      // many small streams, scheduling was a cost of its own.
      if (dirty.length === 1) scheduleTurn(flushDirty)
    }
  }

  /** Streams with events waiting for the turn's flush, in the order they received them. */
  let dirty: Entry[] = []
  const flushDirty = (): void => {
    const due = dirty
    dirty = []
    for (let i = 0; i < due.length; i++) {
      const entry = due[i] as Entry
      entry.scheduled = false
      try {
        flush(entry)
      } catch (error) {
        // One stream's failure (an onError that throws) must not strand the others' events:
        // they go to the next turn, and the error goes on as it would have.
        for (const rest of due.slice(i + 1)) dirty.push(rest)
        if (dirty.length > 0) scheduleTurn(flushDirty)
        throw error
      }
    }
  }

  const flush = (entry: Entry): void => {
    const events = entry.pending
    if (events.length === 0) return
    entry.pending = []
    entry.pendingChars = 0
    if (entry.subs.size === 0) return
    entry.flushing = true
    try {
      fanOut(entry, events)
    } finally {
      entry.flushing = false
    }
  }

  const fanOut = (entry: Entry, events: StoredEvent[]): void => {
    const first = events[0]
    if (!first) return
    const shared: Partial<Record<Framing, ReturnType<typeof framesThroughTerminal>>> = {}
    const chunk = (framing: Framing): ReturnType<typeof framesThroughTerminal> => {
      let owed = shared[framing]
      if (owed === undefined) {
        owed = framesThroughTerminal(events, null, framing, frames, isTerminal)
        shared[framing] = owed
      }
      return owed
    }
    // No copy of the set: a subscriber that ends here is deleted from it, which a Set's
    // iteration allows, and nothing adds one while a batch is written.
    for (const sub of entry.subs) {
      if (sub.phase === 'admitted') {
        keep(sub, events)
        continue
      }
      if (sub.phase !== 'live') continue
      // The shared chunk fits unless the subscriber's first write already held some of these.
      // A subscriber that took the previous batch is known to be behind this one without
      // comparing ids, which is most of them on every batch.
      const behind = sub.lastId === entry.fannedId || !isSeenEventId(first.id, sub.lastId)
      const owed = behind
        ? chunk(sub.framing)
        : framesThroughTerminal(events, sub.lastId, sub.framing, frames, isTerminal)
      if (owed.text === '') continue
      sub.lastId = owed.lastId
      if (write(sub, owed.text) && owed.ended) end(sub, 'terminal')
    }
    entry.fannedId = events[events.length - 1]?.id ?? entry.fannedId
  }

  const keep = (sub: Sub, events: readonly Envelope[]): void => {
    if (sub.buffer === NOTHING_KEPT) sub.buffer = []
    for (const event of events) {
      sub.buffer.push(event)
      sub.bufferChars += frames.frame(event, sub.framing).length
    }
    if (hwm !== false && sub.bufferChars > hwm) {
      end(sub, 'slow-consumer', slowConsumer(sub, 'before it started'))
    }
  }

  const slowConsumer = (sub: Sub, when: string): TaskwireError =>
    new TaskwireError(
      'slow-consumer',
      `A subscriber of ${JSON.stringify(sub.stream)} fell more than ${String(hwm)} bytes behind ${when} and was disconnected; it resumes from its last event id.`,
    )

  /** Writes to a live subscriber; false when the write ended it. */
  const write = (sub: Sub, text: string, first = false): boolean => {
    const sink = sub.sink
    if (!sink || sub.phase !== 'live') return false
    let buffered: number
    try {
      sink.write(text)
      buffered = hwm === false ? 0 : sink.bufferedBytes()
    } catch (cause) {
      const error = new TaskwireError(
        'stream-closed',
        `Writing to a subscriber of ${JSON.stringify(sub.stream)} failed; the subscription was ended.`,
        { cause },
      )
      report(error)
      end(sub, 'client', error)
      return false
    }
    if (hwm === false) return true
    if (first) {
      // A first replay larger than the mark is owed to the client, not a sign it lags: it may
      // drain while live events pile up to another full mark on top of it. Cutting it sooner
      // would make a slow link reconnect, replay the same backlog and be cut again.
      sub.allowance = buffered > hwm ? buffered : 0
    } else if (buffered <= hwm) {
      sub.allowance = 0
    } else if (buffered > hwm + sub.allowance) {
      end(sub, 'slow-consumer', slowConsumer(sub, 'on a live stream'))
      return false
    }
    return true
  }

  const endSink = (sink: SubscriberSink, stream: string, error: TaskwireError | undefined): void => {
    try {
      sink.end(error)
    } catch (cause) {
      report(
        new TaskwireError('stream-closed', `Ending a subscriber of ${JSON.stringify(stream)} failed.`, {
          cause,
        }),
      )
    }
  }

  const end = (sub: Sub, reason: SubscriptionEndReason, error?: TaskwireError): void => {
    if (sub.phase === 'ended') return
    sub.phase = 'ended'
    sub.endError = error
    sub.buffer = NOTHING_KEPT
    sub.bufferChars = 0
    sub.initial = ''
    heartbeat.delete(sub)
    slots.give(sub.key)
    const entry = sub.entry as Entry
    entry.subs.delete(sub)
    if (entry.subs.size === 0) close(entry)
    if (sub.sink) endSink(sub.sink, sub.stream, error)
    sub.endReason = reason
    sub.watcher?.subscriptionEnded(reason)
  }

  return {
    entries,
    get listeners() {
      return listeners
    },
    get beating() {
      return heartbeat.running
    },

    admit(stream, key, framing) {
      const entry = entries.get(stream) ?? open(stream)
      const sub: Sub = {
        stream,
        key,
        framing,
        entry,
        phase: 'admitted',
        sink: undefined,
        lastId: null,
        initial: '',
        initialTerminal: false,
        buffer: NOTHING_KEPT,
        bufferChars: 0,
        allowance: 0,
        delivered: -1,
        endError: undefined,
        endReason: undefined,
        watcher: undefined,
      }
      entry.subs.add(sub)
      return sub
    },

    start(sub, sink) {
      if (sub.sink) {
        throw new TaskwireError(
          'invalid-option',
          'Subscription.start() was called twice; call it once per subscription.',
        )
      }
      sub.sink = sink
      if (sub.phase === 'ended') {
        endSink(sink, sub.stream, sub.endError)
        return
      }
      const kept = sub.initialTerminal
        ? { text: '', lastId: sub.lastId, ended: true }
        : framesThroughTerminal(sub.buffer, sub.lastId, sub.framing, frames, isTerminal)
      const text = retryFrame + sub.initial + kept.text
      sub.buffer = NOTHING_KEPT
      sub.bufferChars = 0
      sub.initial = ''
      sub.lastId = kept.lastId
      sub.phase = 'live'
      if (!write(sub, text, true)) return
      if (kept.ended) end(sub, 'terminal')
      else heartbeat.add(sub)
    },

    end,

    flushAll() {
      for (const entry of [...entries.values()]) flush(entry)
    },

    stop() {
      heartbeat.clear()
    },
  }
}
