import {
  type Catalog,
  type DefaultCatalog,
  type EventInput,
  type EventOf,
  type EventType,
  formatEvent,
  isReservedEventType,
  type RunState,
  TaskwireError,
  TaskwireHttpError,
  TaskwireValidationError,
  validateEventData,
} from '../core/index.js'
import { type AccessRequest, type AccessResult, decideAccess } from './access.js'
import { settleExecutions } from './execution.js'
import { createFirstFrames } from './first-frames.js'
import { createFrameCache, measureNamedFrame } from './frame-cache.js'
import { createFanOut } from './hub-fanout.js'
import { type HubOptions, resolveHubOptions } from './hub-options.js'
import { createSlots } from './hub-slots.js'
import { createStateKeeper } from './hub-state.js'
import { createMemoryBroker } from './memory-broker.js'
import { HubSubscription } from './subscription.js'
import type {
  Broker,
  DisconnectFilter,
  Hub,
  HubCloseOptions,
  HubReadResult,
  HubStats,
  Reservation,
  SubscribeOptions,
  Subscription,
  SubscriptionInfo,
} from './types.js'

/**
 * Creates a hub: it validates events against a catalog, has the broker sequence and log
 * them, and fans each frame, serialized once, out to every subscriber of its stream. Frames
 * of one stream published within one turn of the event loop are joined into one write per
 * subscriber. Subscribers resume after their `Last-Event-ID` with no gap and no duplicate,
 * or get a `stream.reset` when their cursor fell out of the replay log; a stream ends after
 * a terminal event of the catalog (by default `run.completed`, `run.failed`, `run.cancelled`).
 *
 * The hub folds each stream's state itself (from the broker's newest checkpoint plus the
 * log's tail, then live), so a broker only stores and orders, and several processes on one
 * broker (`taskwire/redis`) serve any stream to any client.
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
  const terminal = new Set<string>(catalog.terminal)
  const isTerminal = (type: string): boolean => terminal.has(type)
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
  const report = (error: TaskwireError): void => {
    try {
      config.onError(error)
    } catch {
      // onError is the last resort; if it throws there is nowhere left to report to.
    }
  }
  const frames = createFrameCache()
  const slots = createSlots(config)
  const keeper = createStateKeeper({ broker, isTerminal, report })
  const fanOut = createFanOut({
    broker,
    keeper,
    slots,
    frames,
    isTerminal,
    framing: config.framing,
    retryFrame: config.retryMs === false ? '' : formatEvent({ retry: config.retryMs }),
    highWaterMarkBytes: config.highWaterMarkBytes,
    heartbeatMs: config.heartbeatMs,
    report,
  })
  const prepare = createFirstFrames({
    broker,
    keeper,
    frames,
    isTerminal,
    snapshotOnConnect: config.snapshotOnConnect,
    maxSnapshotBytes: config.maxSnapshotBytes,
    now: config.now,
  })
  /** False from the start of close(): no new subscription or reservation is admitted. */
  let admitting = true
  /** True once executions have settled in close(): publishes are refused. */
  let closed = false
  let closing: Promise<void> | undefined

  const closedError = (): TaskwireHttpError =>
    new TaskwireHttpError(503, 'The hub is closed; retry on another server.', {
      code: 'stream-closed',
      retryAfterMs: config.retryAfterMs,
    })

  const assertStream = (stream: unknown): void => {
    if (typeof stream !== 'string' || stream === '') {
      const message = 'The stream must be a non-empty string (a job, run or execution id).'
      throw new TaskwireValidationError(message, [{ path: 'stream', message, code: 'invalid_type' }], {
        code: 'invalid-stream',
      })
    }
  }

  const refuse = (message: string, path: string, code: 'reserved-event-type' | 'event-too-large'): never => {
    throw new TaskwireValidationError(message, [{ path, message, code }], { code })
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
    fanOut.flushAll()
    const hubClosed = new TaskwireError('stream-closed', 'The hub closed; reconnect to resume.')
    const open = [...fanOut.entries.values()].flatMap((entry) => [...entry.subs])
    await Promise.all(
      open.map((sub) => {
        const end = () => fanOut.end(sub, 'hub-closed', hubClosed)
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
    fanOut.stop()
    await keeper.close()
    if (ownsBroker) await broker.close()
  }

  const hub: Hub<C> = {
    catalog,
    broker,

    async publish<T extends EventType<C>>(
      stream: string,
      type: T,
      data: EventInput<C, T>,
    ): Promise<EventOf<C, T>> {
      if (closed) throw new TaskwireError('stream-closed', 'The hub is closed; create a new hub to publish.')
      assertStream(stream)
      if (isReservedEventType(type)) {
        refuse(
          `${type} is sent by the hub alone (snapshots and resets); publish run, task, agent or node events.`,
          'type',
          'reserved-event-type',
        )
      }
      const result = validateEventData(catalog, type, data)
      if (!result.ok) throw result.error
      const value: unknown = result.value
      const ts = new Date(config.now()).toISOString()
      let dataJson: string
      try {
        // Serialized once here; every process and subscriber reuses this text.
        dataJson = JSON.stringify(value) ?? 'null'
      } catch (cause) {
        const message = `The ${type} payload cannot be serialized as JSON (${String(cause)}); send plain data.`
        throw new TaskwireValidationError(message, [{ path: 'data', message, code: 'not-serializable' }], {
          cause,
        })
      }
      // Measured as the frame will be written, but for the digits of the id the broker assigns.
      const size = measureNamedFrame(type, stream, ts, dataJson, config.maxEventBytes)
      if (size.tooLarge) {
        refuse(
          `The ${type} event for ${JSON.stringify(stream)} is larger than maxEventBytes (${config.maxEventBytes} bytes); publish a reference to large payloads rather than the payload.`,
          'data',
          'event-too-large',
        )
      }
      const stored = await broker.append({ type, stream, ts, data: value, dataJson, bytes: size.chars })
      keeper.published(stored)
      const envelope = { type, stream, id: stored.id, ts, data: value }
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
      const reservation = options.reservation
      const reserved = reservation !== undefined && slots.takeOver(reservation)
      const key = reserved ? reservation.key : options.key
      const held = fanOut.entries.get(stream)?.subs.size ?? 0
      if (config.maxPerStream !== false && held >= config.maxPerStream) {
        if (reserved) slots.give(key)
        throw new TaskwireHttpError(
          503,
          `Stream ${JSON.stringify(stream)} has its maximum of ${config.maxPerStream} subscribers; retry later.`,
          { code: 'stream-limit', retryAfterMs: config.retryAfterMs },
        )
      }
      if (!reserved) slots.take(key)
      const sub = fanOut.admit(stream, key, framing)
      const cursor =
        options.lastEventId === undefined || options.lastEventId === '' ? null : options.lastEventId
      let open: boolean
      try {
        await sub.entry.opened
        open = await prepare(sub, cursor)
      } catch (error) {
        fanOut.end(sub, 'client')
        throw error
      }
      if (!admitting) {
        fanOut.end(sub, 'hub-closed')
        throw closedError()
      }
      if (!open) {
        fanOut.end(sub, 'terminal')
        return null
      }
      return new HubSubscription(fanOut, sub)
    },

    async read(stream: string, afterId: string | null = null): Promise<HubReadResult<C>> {
      const { ended } = await keeper.state(stream)
      const result = await broker.read(stream, afterId)
      // Plain envelopes: the payload's JSON the broker carries is not part of an event.
      const events = result.events.map(({ type, stream, id, ts, data }) => ({ type, stream, id, ts, data }))
      return { ...result, events: events as EventOf<C>[], ended }
    },

    async snapshot(stream: string): Promise<RunState> {
      return (await keeper.state(stream)).state
    },

    authorize(access: AccessRequest): Promise<AccessResult> {
      return decideAccess(config.authorize, access)
    },

    reserve(options: { key?: string | undefined } = {}): Reservation {
      if (!admitting) throw closedError()
      return slots.reserve(options.key)
    },

    disconnect(filter: DisconnectFilter): number {
      const matches =
        typeof filter === 'function'
          ? filter
          : (sub: SubscriptionInfo) =>
              (filter.stream === undefined || sub.stream === filter.stream) &&
              (filter.key === undefined || sub.key === filter.key)
      let ended = 0
      for (const entry of [...fanOut.entries.values()]) {
        for (const sub of [...entry.subs]) {
          if (sub.phase === 'ended' || !matches({ stream: sub.stream, key: sub.key })) continue
          fanOut.end(
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
      return {
        connections: slots.count,
        streams: fanOut.entries.size,
        brokerListeners: fanOut.listeners,
        timers: fanOut.beating ? 1 : 0,
      }
    },

    close(options: HubCloseOptions = {}): Promise<void> {
      if (closing === undefined) closing = shutDown(options)
      return closing
    },
  }
  return hub
}
