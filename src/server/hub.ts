import {
  type Catalog,
  type DefaultCatalog,
  type Envelope,
  type EventInput,
  type EventOf,
  type EventType,
  type Framing,
  formatEvent,
  isReservedEventType,
  isSeenEventId,
  isTerminalEventType,
  type RunState,
  TaskwireError,
  TaskwireHttpError,
  TaskwireValidationError,
  validateEventData,
} from '../core/index.js'
import { type AccessRequest, type AccessResult, decideAccess } from './access.js'
import { settleExecutions } from './execution.js'
import { createFrameCache, exceedsUtf8Bytes } from './frame-cache.js'
import { createHeartbeat } from './heartbeat.js'
import { type HubOptions, resolveHubOptions } from './hub-options.js'
import { createMemoryBroker } from './memory-broker.js'
import type {
  Broker,
  DisconnectFilter,
  Hub,
  HubCloseOptions,
  HubReadResult,
  HubStats,
  Reservation,
  SubscribeOptions,
  SubscriberSink,
  Subscription,
  SubscriptionEndReason,
  SubscriptionInfo,
} from './types.js'

/** The heartbeat frame: a comment, which readers ignore (WHATWG HTML §9.2.6). */
const HEARTBEAT_FRAME = ': hb\n\n'

/**
 * Past this many characters of frames waiting for the end of the turn, a stream's batch is
 * written at once, so a publisher that never yields cannot grow it without bound.
 */
const FLUSH_NOW_CHARS = 64 * 1024

interface StreamEntry {
  readonly stream: string
  readonly subs: Set<Sub>
  unlisten: () => void
  pending: Envelope[]
  pendingChars: number
  scheduled: boolean
  flushing: boolean
  /**
   * The snapshot and reset frames of the state last served, by framing and kind. Kept on
   * the entry, which lives only while the stream has subscribers, so what it holds is
   * bounded by the connection limits whatever stream names callers ask for.
   */
  stateFrames: { state: RunState; frames: Map<string, string> } | undefined
}

interface Sub {
  readonly stream: string
  /** The caller key its connection slot counts against. */
  readonly key: string | undefined
  readonly framing: Framing
  readonly entry: StreamEntry
  phase: 'admitted' | 'live' | 'ended'
  sink: SubscriberSink | undefined
  /** The newest id this subscriber has (or, before start, will have after its first write). */
  lastId: string | null
  /** The snapshot, reset or replay frames prepared by subscribe(), written by start(). */
  initial: string
  initialTerminal: boolean
  /** Live events that arrived before start(). */
  buffer: Envelope[]
  bufferChars: number
  /** Bytes of a first replay the connection may hold on top of the high-water mark. */
  allowance: number
  endError: TaskwireError | undefined
  resolveEnded: (reason: SubscriptionEndReason) => void
}

interface HeldReservation extends Reservation {
  held: boolean
}

const TERMINAL_STATUSES: ReadonlySet<RunState['status']> = new Set(['completed', 'failed', 'cancelled'])

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
 * Creates a hub: it validates events against a catalog, has the broker sequence and log
 * them, and fans each frame, serialized once, out to every subscriber of its stream. Frames
 * of one stream published within one turn of the event loop are joined into one write per
 * subscriber. Subscribers resume after their `Last-Event-ID` with no gap and no duplicate,
 * or get a `stream.reset` when their cursor fell out of the replay log; a stream ends after
 * its terminal event (`run.completed`, `run.failed`, `run.cancelled`).
 *
 * @param options - the catalog, broker, limits and timings; see {@link HubOptions}
 * @returns the hub; mount it with an adapter (`serveNode`, `serveWeb` ...)
 * @throws {@link taskwire!TaskwireError} `invalid-option` for an option out of range
 * @example
 * ```ts
 * import { createHub } from 'taskwire/server'
 *
 * const hub = createHub({ heartbeatMs: 15_000 })
 * await hub.publish('job-7', 'task.status', { taskId: 't1', status: 'in_progress' })
 * ```
 */
export function createHub<C extends Catalog = DefaultCatalog>(options: HubOptions<C> = {}): Hub<C> {
  const config = resolveHubOptions(options)
  const catalog = config.catalog
  const ownsBroker = config.broker === undefined
  const broker: Broker =
    config.broker ??
    createMemoryBroker({
      maxEvents: config.replay.maxEvents,
      maxAgeMs: config.replay.maxAgeMs,
      maxBytes: config.replay.maxBytes,
      maxStreams: config.replay.maxStreams,
      now: config.now,
      onError: config.onError,
    })
  const frames = createFrameCache()
  const entries = new Map<string, StreamEntry>()
  const retryFrame = config.retryMs === false ? '' : formatEvent({ retry: config.retryMs })
  const hwm = config.highWaterMarkBytes
  let connections = 0
  const perKey = new Map<string, number>()
  const reservations = new WeakSet<HeldReservation>()
  /** Takes over a reservation's slot; false when it is not one of this hub's live ones. */
  const takeOver = (reservation: Reservation): boolean => {
    const held = reservation as HeldReservation
    if (!reservations.has(held) || !held.held) return false
    held.held = false
    return true
  }
  let brokerListeners = 0
  /** False from the start of close(): no new subscription or reservation is admitted. */
  let admitting = true
  /** True once executions have settled in close(): publishes are refused. */
  let closed = false
  let closing: Promise<void> | undefined

  const heartbeat = createHeartbeat<Sub>({
    intervalMs: config.heartbeatMs,
    beat: (sub) => {
      write(sub, HEARTBEAT_FRAME)
    },
  })

  const report = (error: TaskwireError): void => {
    try {
      config.onError(error)
    } catch {
      // onError is the last resort; if it throws there is nowhere left to report to.
    }
  }

  /** Takes a connection slot for a caller, or throws the 503 its limit calls for. */
  const takeSlot = (key: string | undefined): void => {
    if (config.maxConnections !== false && connections >= config.maxConnections) {
      throw new TaskwireHttpError(
        503,
        `The server holds its maximum of ${config.maxConnections} connections; retry later.`,
        { code: 'connection-limit', retryAfterMs: config.retryAfterMs },
      )
    }
    const held = key === undefined ? 0 : (perKey.get(key) ?? 0)
    if (key !== undefined && config.maxConnectionsPerKey !== false && held >= config.maxConnectionsPerKey) {
      throw new TaskwireHttpError(
        503,
        `This caller holds its maximum of ${config.maxConnectionsPerKey} connections; close one or retry later.`,
        { code: 'connection-limit', retryAfterMs: config.retryAfterMs },
      )
    }
    connections++
    if (key !== undefined) perKey.set(key, held + 1)
  }

  const giveSlot = (key: string | undefined): void => {
    connections--
    if (key === undefined) return
    const held = (perKey.get(key) ?? 1) - 1
    if (held > 0) perKey.set(key, held)
    else perKey.delete(key)
  }

  const closedError = (): TaskwireHttpError =>
    new TaskwireHttpError(503, 'The hub is closed; retry on another server.', {
      code: 'stream-closed',
      retryAfterMs: config.retryAfterMs,
    })

  const openEntry = (stream: string): StreamEntry => {
    const entry: StreamEntry = {
      stream,
      subs: new Set(),
      unlisten: () => {},
      pending: [],
      pendingChars: 0,
      scheduled: false,
      flushing: false,
      stateFrames: undefined,
    }
    // Listen before the replay is read, so no event can fall between replay and live.
    const unlisten = broker.subscribe(stream, (event) => receive(entry, event))
    entries.set(stream, entry)
    brokerListeners++
    entry.unlisten = () => {
      brokerListeners--
      unlisten()
    }
    return entry
  }

  const receive = (entry: StreamEntry, event: Envelope): void => {
    if (entries.get(entry.stream) !== entry) return
    entry.pending.push(event)
    entry.pendingChars += frames.frame(event, config.framing).length
    // Never flush inside a flush (a sink or onError that publishes synchronously): the outer
    // loop would then write an older batch after a newer one.
    if (entry.pendingChars >= FLUSH_NOW_CHARS && !entry.flushing) {
      flush(entry)
    } else if (!entry.scheduled) {
      entry.scheduled = true
      scheduleTurn(() => {
        entry.scheduled = false
        flush(entry)
      })
    }
  }

  const flush = (entry: StreamEntry): void => {
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

  const fanOut = (entry: StreamEntry, events: Envelope[]): void => {
    const terminalAt = events.findIndex((event) => isTerminalEventType(event.type))
    const deliverable = terminalAt === -1 ? events : events.slice(0, terminalAt + 1)
    const chunks: Partial<Record<Framing, string>> = {}
    const chunk = (framing: Framing): string => {
      let text = chunks[framing]
      if (text === undefined) {
        text = join(deliverable, framing)
        chunks[framing] = text
      }
      return text
    }
    for (const sub of [...entry.subs]) {
      if (sub.phase === 'admitted') keep(sub, events)
      else if (sub.phase === 'live') deliver(sub, deliverable, terminalAt !== -1, chunk)
    }
  }

  const join = (events: readonly Envelope[], framing: Framing): string => {
    let text = ''
    for (const event of events) text += frames.frame(event, framing)
    return text
  }

  const keep = (sub: Sub, events: readonly Envelope[]): void => {
    for (const event of events) {
      sub.buffer.push(event)
      sub.bufferChars += frames.frame(event, sub.framing).length
    }
    if (hwm !== false && sub.bufferChars > hwm) {
      endSub(sub, 'slow-consumer', slowConsumer(sub, 'before it started'))
    }
  }

  const deliver = (
    sub: Sub,
    events: readonly Envelope[],
    terminal: boolean,
    chunk: (framing: Framing) => string,
  ): void => {
    const first = events[0]
    const last = events[events.length - 1]
    if (!first || !last || isSeenEventId(last.id, sub.lastId)) return
    // The shared chunk fits unless the subscriber's first write already held some of these.
    const text = isSeenEventId(first.id, sub.lastId)
      ? join(
          events.filter((event) => !isSeenEventId(event.id, sub.lastId)),
          sub.framing,
        )
      : chunk(sub.framing)
    sub.lastId = last.id
    if (write(sub, text) && terminal) endSub(sub, 'terminal')
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
      endSub(sub, 'client', error)
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
      endSub(sub, 'slow-consumer', slowConsumer(sub, 'on a live stream'))
      return false
    }
    return true
  }

  const endSub = (sub: Sub, reason: SubscriptionEndReason, error?: TaskwireError): void => {
    if (sub.phase === 'ended') return
    sub.phase = 'ended'
    sub.endError = error
    sub.buffer = []
    sub.bufferChars = 0
    sub.initial = ''
    heartbeat.delete(sub)
    giveSlot(sub.key)
    const entry = sub.entry
    entry.subs.delete(sub)
    if (entry.subs.size === 0 && entries.get(entry.stream) === entry) {
      entries.delete(entry.stream)
      entry.pending = []
      entry.unlisten()
    }
    if (sub.sink) endSink(sub.sink, sub.stream, error)
    sub.resolveEnded(reason)
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

  const start = (sub: Sub, sink: SubscriberSink): void => {
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
    let text = retryFrame + sub.initial
    let lastId = sub.lastId
    let terminal = sub.initialTerminal
    if (!terminal) {
      for (const event of sub.buffer) {
        if (isSeenEventId(event.id, lastId)) continue
        text += frames.frame(event, sub.framing)
        lastId = event.id
        if (isTerminalEventType(event.type)) {
          terminal = true
          break
        }
      }
    }
    sub.buffer = []
    sub.bufferChars = 0
    sub.initial = ''
    sub.lastId = lastId
    sub.phase = 'live'
    if (!write(sub, text, true)) return
    if (terminal) endSub(sub, 'terminal')
    else heartbeat.add(sub)
  }

  const assertStream = (stream: unknown): void => {
    if (typeof stream !== 'string' || stream === '') {
      const message = 'The stream must be a non-empty string (a job, run or execution id).'
      throw new TaskwireValidationError(message, [{ path: 'stream', message, code: 'invalid_type' }], {
        code: 'invalid-stream',
      })
    }
  }

  const nowIso = (): string => new Date(config.now()).toISOString()

  const stateEnvelope = (stream: string, type: string, state: RunState, data: unknown): Envelope => ({
    type,
    stream,
    // A stream without events has no id yet; "0" reads as "from the start" on resume.
    id: state.lastEventId ?? '0',
    ts: nowIso(),
    data,
  })

  // A broker hands out the same state object until the next event, so the many viewers that
  // open one stream at once (a dashboard, a reconnect storm) share one serialized snapshot.
  const stateFrame = (sub: Sub, kind: string, state: RunState, data: () => unknown): string => {
    const entry = sub.entry
    if (entry.stateFrames?.state !== state) entry.stateFrames = { state, frames: new Map() }
    const key = `${sub.framing}\n${kind}`
    let frame = entry.stateFrames.frames.get(key)
    if (frame === undefined) {
      const type = kind.startsWith('stream.reset') ? 'stream.reset' : 'stream.snapshot'
      frame = frames.frame(stateEnvelope(sub.stream, type, state, data()), sub.framing)
      entry.stateFrames.frames.set(key, frame)
    }
    return frame
  }

  const tooLarge = (frame: string): boolean =>
    config.maxSnapshotBytes !== false && exceedsUtf8Bytes(frame, config.maxSnapshotBytes)

  /** The frames of a replay, up to and including the first terminal event. */
  const replayFrames = (sub: Sub, events: readonly Envelope[], cursor: string | null): void => {
    let text = ''
    let lastId = cursor
    let ended = false
    for (const event of events) {
      text += frames.frame(event, sub.framing)
      lastId = event.id
      if (isTerminalEventType(event.type)) {
        ended = true
        break
      }
    }
    sub.initial = text
    sub.lastId = lastId
    sub.initialTerminal = ended
  }

  /** Prepares what start() writes before live events: a snapshot, a reset or the replay. */
  const prepare = async (sub: Sub, cursor: string | null): Promise<boolean> => {
    const state = await broker.state(sub.stream)
    const read = await broker.read(sub.stream, cursor)
    const terminal = TERMINAL_STATUSES.has(state.status)
    const snapshotOnConnect = config.snapshotOnConnect
    const wantsSnapshot = cursor === null && (snapshotOnConnect !== false || read.expired)
    if (terminal && !read.expired && read.events.length === 0 && !wantsSnapshot) return false
    if (!wantsSnapshot && !read.expired) {
      replayFrames(sub, read.events, cursor)
      return true
    }
    let frame: string
    if (wantsSnapshot) {
      const meta = typeof snapshotOnConnect === 'function' ? await snapshotOnConnect(sub.stream) : undefined
      frame =
        meta === undefined
          ? stateFrame(sub, 'stream.snapshot', state, () => ({ state }))
          : frames.frame(stateEnvelope(sub.stream, 'stream.snapshot', state, { state, meta }), sub.framing)
    } else {
      const reason = read.reason ?? 'cursor-expired'
      frame = stateFrame(sub, `stream.reset:${reason}`, state, () => ({ state, reason }))
    }
    if (tooLarge(frame)) {
      // A complete log tells the whole run event by event, each within maxEventBytes.
      if (cursor === null && !read.expired) {
        replayFrames(sub, read.events, cursor)
        return true
      }
      frame = stateFrame(sub, 'stream.reset:snapshot-too-large', state, () => ({
        state: {
          ...state,
          tasks: [],
          agents: {},
          agentOrder: [],
          nodes: {},
          nodeOrder: [],
          output: undefined,
          meta: {},
        },
        reason: 'snapshot-too-large',
      }))
    }
    sub.initial = frame
    sub.lastId = state.lastEventId
    sub.initialTerminal = terminal
    return true
  }

  const shutDown = async (options: HubCloseOptions): Promise<void> => {
    const drainMs = options.drainMs ?? 0
    const executions = options.executions ?? 'cancel'
    if (!(Number.isFinite(drainMs) && drainMs >= 0) || (executions !== 'cancel' && executions !== 'await')) {
      closing = undefined
      throw new TaskwireError(
        'invalid-option',
        `close() takes drainMs >= 0 and executions 'cancel' or 'await', got ${String(drainMs)} and ${String(executions)}.`,
      )
    }
    admitting = false
    // Executions publish their last events (run.cancelled, or their own end) while the
    // hub still takes publishes, so their viewers see how each run ended.
    await settleExecutions(hub, executions)
    closed = true
    // Frames still waiting for the end of the turn go out before any connection is closed.
    for (const entry of [...entries.values()]) flush(entry)
    const hubClosed = new TaskwireError('stream-closed', 'The hub closed; reconnect to resume.')
    const open = [...entries.values()].flatMap((entry) => [...entry.subs])
    await Promise.all(
      open.map((sub) => {
        const end = () => endSub(sub, 'hub-closed', hubClosed)
        if (drainMs === 0) return end()
        // Each connection closes at its own random moment in the window, so the clients of a
        // restarting server come back spread out rather than all in the same instant.
        return new Promise<void>((resolve) => {
          setTimeout(() => {
            end()
            resolve()
          }, Math.random() * drainMs)
        })
      }),
    )
    heartbeat.clear()
    if (ownsBroker) await broker.close()
  }

  const hub: Hub<C> = {
    catalog,

    async publish<T extends EventType<C>>(
      stream: string,
      type: T,
      data: EventInput<C, T>,
    ): Promise<EventOf<C, T>> {
      if (closed) throw new TaskwireError('stream-closed', 'The hub is closed; create a new hub to publish.')
      assertStream(stream)
      if (isReservedEventType(type)) {
        const message = `${type} is sent by the hub alone (snapshots and resets); publish run, task, agent or node events.`
        throw new TaskwireValidationError(message, [{ path: 'type', message, code: 'reserved-event-type' }], {
          code: 'reserved-event-type',
        })
      }
      const result = validateEventData(catalog, type, data)
      if (!result.ok) throw result.error
      const value: unknown = result.value
      const ts = nowIso()
      try {
        if (typeof value === 'object' && value !== null) frames.rememberData(value, JSON.stringify(value))
      } catch (cause) {
        const message = `The ${type} payload cannot be serialized as JSON (${String(cause)}); send plain data.`
        throw new TaskwireValidationError(message, [{ path: 'data', message, code: 'not-serializable' }], {
          cause,
        })
      }
      // Measured on the frame as written, but for the digits of the id the broker assigns.
      const probe = frames.frame({ type, stream, id: '', ts, data: value }, 'named')
      if (config.maxEventBytes !== false && exceedsUtf8Bytes(probe, config.maxEventBytes)) {
        const message = `The ${type} event for ${JSON.stringify(stream)} is larger than maxEventBytes (${config.maxEventBytes} bytes); publish a reference to large payloads rather than the payload.`
        throw new TaskwireValidationError(message, [{ path: 'data', message, code: 'event-too-large' }], {
          code: 'event-too-large',
        })
      }
      const envelope = await broker.append({ type, stream, ts, data: value, bytes: probe.length })
      return envelope as EventOf<C, T>
    },

    async subscribe(stream: string, options: SubscribeOptions = {}): Promise<Subscription | null> {
      if (!admitting) throw closedError()
      assertStream(stream)
      const framing = options.framing ?? config.framing
      if (framing !== 'named' && framing !== 'data-only') {
        throw new TaskwireError(
          'invalid-option',
          `framing must be 'named' or 'data-only', got ${String(framing)}.`,
        )
      }
      const existing = entries.get(stream)
      const reservation = options.reservation
      const reserved = reservation !== undefined && takeOver(reservation)
      const key = reserved ? reservation.key : options.key
      if (config.maxPerStream !== false && (existing?.subs.size ?? 0) >= config.maxPerStream) {
        if (reserved) giveSlot(key)
        throw new TaskwireHttpError(
          503,
          `Stream ${JSON.stringify(stream)} has its maximum of ${config.maxPerStream} subscribers; retry later.`,
          { code: 'stream-limit', retryAfterMs: config.retryAfterMs },
        )
      }
      if (!reserved) takeSlot(key)
      let entry: StreamEntry
      try {
        entry = existing ?? openEntry(stream)
      } catch (error) {
        giveSlot(key)
        throw error
      }
      let resolveEnded: (reason: SubscriptionEndReason) => void = () => {}
      const ended = new Promise<SubscriptionEndReason>((resolve) => {
        resolveEnded = resolve
      })
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
        buffer: [],
        bufferChars: 0,
        allowance: 0,
        endError: undefined,
        resolveEnded,
      }
      entry.subs.add(sub)
      const cursor =
        options.lastEventId === undefined || options.lastEventId === '' ? null : options.lastEventId
      let open: boolean
      try {
        open = await prepare(sub, cursor)
      } catch (error) {
        endSub(sub, 'client')
        throw error
      }
      if (!admitting) {
        endSub(sub, 'hub-closed')
        throw closedError()
      }
      if (!open) {
        endSub(sub, 'terminal')
        return null
      }
      return {
        stream,
        ended,
        start: (sink) => start(sub, sink),
        close: () => endSub(sub, 'client'),
      }
    },

    async read(stream: string, afterId: string | null = null): Promise<HubReadResult<C>> {
      const [state, result] = await Promise.all([broker.state(stream), broker.read(stream, afterId)])
      return {
        events: result.events as EventOf<C>[],
        expired: result.expired,
        ended: TERMINAL_STATUSES.has(state.status),
      }
    },

    snapshot(stream: string): Promise<RunState> {
      return broker.state(stream)
    },

    authorize(access: AccessRequest): Promise<AccessResult> {
      return decideAccess(config.authorize, access)
    },

    reserve(options: { key?: string | undefined } = {}): Reservation {
      if (!admitting) throw closedError()
      takeSlot(options.key)
      const reservation: HeldReservation = {
        key: options.key,
        held: true,
        release() {
          if (!reservation.held) return
          reservation.held = false
          giveSlot(reservation.key)
        },
      }
      reservations.add(reservation)
      return reservation
    },

    disconnect(filter: DisconnectFilter): number {
      const matches =
        typeof filter === 'function'
          ? filter
          : (sub: SubscriptionInfo) =>
              (filter.stream === undefined || sub.stream === filter.stream) &&
              (filter.key === undefined || sub.key === filter.key)
      let ended = 0
      for (const entry of [...entries.values()]) {
        for (const sub of [...entry.subs]) {
          if (sub.phase === 'ended' || !matches({ stream: sub.stream, key: sub.key })) continue
          endSub(
            sub,
            'revoked',
            new TaskwireError(
              'revoked',
              'The server ended this subscription; reconnect to be authorized again.',
            ),
          )
          ended++
        }
      }
      return ended
    },

    stats(): HubStats {
      return { connections, streams: entries.size, brokerListeners, timers: heartbeat.running ? 1 : 0 }
    },

    close(options: HubCloseOptions = {}): Promise<void> {
      if (closing === undefined) closing = shutDown(options)
      return closing
    },
  }
  return hub
}
