import { createRunFold, type RunFold, type RunState, TaskwireError } from '../core/index.js'
import type { AppendedEvent, Broker, StoredEvent } from './types.js'

/** A stream's state as the hub folded it, and whether the stream has ended. */
export interface FoldedStream {
  /** The state after every event folded so far. */
  readonly state: RunState
  /** True once a terminal event of the catalog was folded in. */
  readonly ended: boolean
}

/** Options of {@link createStateKeeper}. */
export interface StateKeeperOptions {
  /** Where the logs and checkpoints are. */
  broker: Broker
  /** Tells whether an event type ends a stream. */
  isTerminal: (type: string) => boolean
  /** Receives what went wrong in the background (a checkpoint that could not be saved). */
  report: (error: TaskwireError) => void
}

/**
 * Folds the state of streams on the hub's side, so a broker only stores and orders: from
 * the stream's newest checkpoint plus the log's tail after it, then event by event for the
 * streams this process follows live. It writes checkpoints back, every
 * {@link CHECKPOINT_EVERY} events and once a second after a stream's last unsaved event, so
 * any process can fold any stream from a recent point even after the log was trimmed.
 */
export interface StateKeeper {
  /**
   * The stream's state, caught up with its log.
   *
   * @param stream - the stream
   */
  state(stream: string): Promise<FoldedStream>
  /**
   * Folds an event a live subscription delivered, in log order.
   *
   * @param event - the event
   */
  follow(event: StoredEvent): void
  /**
   * Folds an event this process appended when the fold is at the event before it, and
   * makes sure the stream's checkpoint is written soon even if nobody here reads it.
   *
   * @param event - the event as the broker stored it
   */
  published(event: AppendedEvent): void
  /**
   * Forgets what was folded of a stream (its log lost events the fold had not seen).
   *
   * @param stream - the stream
   */
  forget(stream: string): void
  /**
   * Keeps a stream's fold in memory while this process follows it live.
   *
   * @param stream - the stream
   * @returns a function that lets it go
   */
  pin(stream: string): () => void
  /** Writes the checkpoints still owed and stops the timer. */
  close(): Promise<void>
  /** Folds held, for tests that prove nothing leaks. */
  readonly size: number
}

/** Events folded between two checkpoints of a stream. */
export const CHECKPOINT_EVERY = 500
/** How long after its last unsaved event a stream's checkpoint is written, in milliseconds. */
const CHECKPOINT_DELAY_MS = 1000
/** Checkpoints written at once at most, when many streams owe one. */
const CHECKPOINTS_IN_FLIGHT = 4
/** Folds kept for streams nobody here follows live; the least recently used go first. */
const MAX_UNPINNED = 1000

interface Kept {
  readonly stream: string
  fold: RunFold
  ended: boolean
  /** Resolves once the checkpoint it started from is loaded. */
  ready: Promise<void>
  /** False while the checkpoint loads: the fold may not be applied to yet. */
  loaded: boolean
  /** Events folded since the last checkpoint this process wrote or read. */
  unsaved: number
  pins: number
}

/**
 * Creates the state keeper of a hub.
 *
 * @param options - the broker, the catalog's terminal types and the error sink
 * @returns the keeper
 */
export function createStateKeeper(options: StateKeeperOptions): StateKeeper {
  const { broker, isTerminal, report } = options
  // Folds of streams followed live here, and the others by use, least recent first.
  const pinned = new Map<string, Kept>()
  const recent = new Map<string, Kept>()
  // Streams whose checkpoint is owed, and whether their fold must read the log first.
  const dirty = new Map<string, boolean>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let closed = false

  const find = (stream: string): Kept | undefined => pinned.get(stream) ?? recent.get(stream)

  const save = (entry: Kept): Promise<void> => {
    if (entry.unsaved === 0 || entry.fold.lastEventId === null) return Promise.resolve()
    entry.unsaved = 0
    const checkpoint = { state: entry.fold.state, ended: entry.ended }
    return broker.saveCheckpoint(entry.stream, checkpoint).catch((cause: unknown) => {
      report(
        new TaskwireError(
          'broker',
          `The checkpoint of stream ${JSON.stringify(entry.stream)} was not saved.`,
          {
            cause,
          },
        ),
      )
    })
  }

  const remember = (entry: Kept): void => {
    recent.delete(entry.stream)
    recent.set(entry.stream, entry)
    if (recent.size <= MAX_UNPINNED) return
    const oldest = recent.values().next().value
    if (!oldest) return
    recent.delete(oldest.stream)
    // What only this fold knows goes to the broker before the fold goes.
    if (!closed) void save(oldest)
  }

  const create = (stream: string, fromCheckpoint: boolean): Kept => {
    const entry: Kept = {
      stream,
      fold: createRunFold(),
      ended: false,
      ready: Promise.resolve(),
      loaded: !fromCheckpoint,
      unsaved: 0,
      pins: 0,
    }
    if (fromCheckpoint) entry.ready = load(entry)
    return entry
  }

  const load = async (entry: Kept): Promise<void> => {
    entry.loaded = false
    const checkpoint = await broker.loadCheckpoint(entry.stream)
    entry.fold = createRunFold(checkpoint?.state)
    entry.ended = checkpoint?.ended ?? false
    entry.unsaved = 0
    entry.loaded = true
  }

  const open = (stream: string): Kept => {
    const found = pinned.get(stream)
    if (found) return found
    const entry = recent.get(stream) ?? create(stream, true)
    remember(entry)
    return entry
  }

  const apply = (entry: Kept, event: StoredEvent): void => {
    const before = entry.fold.lastEventId
    entry.fold.apply(event)
    if (entry.fold.lastEventId === before) return
    if (isTerminal(event.type)) entry.ended = true
    entry.unsaved++
  }

  const schedule = (stream: string, read: boolean): void => {
    if (closed) return
    dirty.set(stream, read || dirty.get(stream) === true)
    if (timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      void flushDirty()
    }, CHECKPOINT_DELAY_MS)
    ;(timer as { unref?: () => void }).unref?.()
  }

  /**
   * Saves at once what must not wait (a run's end, a full interval of events). Only the
   * process that appended an event owes its timed checkpoint (see `published`), so the
   * processes that follow a stream do not all save the same state every second.
   */
  const settle = (entry: Kept): void => {
    if (entry.unsaved >= CHECKPOINT_EVERY || (entry.ended && entry.unsaved > 0)) void save(entry)
  }

  const flushOne = async (stream: string, read: boolean): Promise<void> => {
    try {
      const entry = find(stream)
      // A fold that took the stream's events as they were appended is current: no read.
      await save(!read && entry?.loaded ? entry : await catchUp(stream))
    } catch (cause) {
      report(
        new TaskwireError('broker', `The state of stream ${JSON.stringify(stream)} could not be read.`, {
          cause,
        }),
      )
    }
  }

  const flushDirty = async (): Promise<void> => {
    const owed = [...dirty]
    dirty.clear()
    // A few at a time, so the checkpoints of many streams do not queue up ahead of the
    // appends that share the broker's connection.
    let next = 0
    const worker = async (): Promise<void> => {
      for (let item = owed[next++]; item !== undefined; item = owed[next++]) await flushOne(...item)
    }
    await Promise.all(Array.from({ length: Math.min(CHECKPOINTS_IN_FLIGHT, owed.length) }, worker))
  }

  const catchUp = async (stream: string): Promise<Kept> => {
    const entry = open(stream)
    try {
      await entry.ready
    } catch (error) {
      if (recent.get(stream) === entry) recent.delete(stream)
      throw error
    }
    let read = await broker.read(stream, entry.fold.lastEventId)
    if (read.expired && entry.fold.lastEventId !== null) {
      // The log moved past this fold (trimmed, or forgotten and begun again): start over
      // from the newest checkpoint, which another process may have written meanwhile.
      entry.ready = load(entry)
      await entry.ready
      read = await broker.read(stream, entry.fold.lastEventId)
    }
    if (read.expired && read.events.length > 0) {
      report(
        new TaskwireError(
          'broker',
          `The log of stream ${JSON.stringify(stream)} dropped events before a checkpoint held them; its state misses them. Keep logs longer than a stream stays idle.`,
        ),
      )
    }
    for (const event of read.events) apply(entry, event)
    return entry
  }

  return {
    get size() {
      return pinned.size + recent.size
    },

    async state(stream) {
      const entry = await catchUp(stream)
      settle(entry)
      return { state: entry.fold.state, ended: entry.ended }
    },

    follow(event) {
      const entry = find(event.stream)
      if (!entry?.loaded) return
      apply(entry, event)
      settle(entry)
    },

    published(event) {
      let entry = find(event.stream)
      if (!entry && event.previousId === null) {
        // The stream's first event: its state is this event alone, no checkpoint needed.
        entry = create(event.stream, false)
        remember(entry)
      }
      // Current when it ends just before this event, or already took it: a stream this process
      // follows gets each event from the broker before `append` returns to the publisher.
      const current =
        entry?.loaded &&
        event.previousId !== undefined &&
        (entry.fold.lastEventId === event.previousId || entry.fold.lastEventId === event.id)
      if (entry && current) {
        if (entry.fold.lastEventId !== event.id) apply(entry, event)
        settle(entry)
        if (entry.unsaved > 0) schedule(event.stream, false)
      } else {
        schedule(event.stream, true)
      }
    },

    forget(stream) {
      const entry = find(stream)
      if (!entry) return
      entry.unsaved = 0
      if (entry.pins === 0) recent.delete(stream)
      else entry.ready = load(entry)
      entry.ready.catch(() => undefined)
    },

    pin(stream) {
      const entry = open(stream)
      if (entry.pins++ === 0) {
        recent.delete(stream)
        pinned.set(stream, entry)
      }
      let held = true
      return () => {
        if (!held) return
        held = false
        if (--entry.pins > 0) return
        pinned.delete(stream)
        remember(entry)
      }
    },

    async close() {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      await flushDirty()
      pinned.clear()
      recent.clear()
    },
  }
}
