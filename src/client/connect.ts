import {
  type Catalog,
  type DefaultCatalog,
  decodeEvent,
  type Envelope,
  type EventMessage,
  type EventOf,
  initialRunState,
  isSeenEventId,
  type RunState,
  reduceRun,
  runStateSchema,
  TaskwireError,
  TaskwireHttpError,
  TaskwireValidationError,
  type ValidationResult,
} from '../core/index.js'
import { createBackoff } from './backoff.js'
import { createEventQueue, type EventQueue } from './event-queue.js'
import { type ConnectOptions, type ResolvedConnectOptions, resolveConnectOptions } from './options.js'
import { createSseDecoder } from './sse-decoder.js'
import type { ConnectionStats, ConnectionStatus, StreamHandle, StreamSnapshot } from './stream-handle.js'
import type { AttemptOutcome, PollBatch, Transport, TransportRequest, TransportSink } from './transport.js'
import { eventSourceTransport } from './transports/eventsource.js'
import { fetchTransport } from './transports/fetch.js'
import { pollingTransport } from './transports/polling.js'
import { websocketTransport } from './transports/websocket.js'
import { createWatchdog } from './watchdog.js'

type AnyHandler = (event: never) => void

const RESTATING = new Set(['stream.snapshot', 'stream.reset'])
const ENDED_STATUSES = new Set(['completed', 'failed', 'cancelled'])

/**
 * Opens a stream and keeps it open: it reconnects with backoff and full jitter after any
 * drop, resumes after the last event id, drops duplicates, folds events into a run state,
 * and closes by itself after a terminal event or an HTTP 204.
 *
 * @param url - the stream's URL (`ws:`/`wss:` or `http(s):` for the `websocket` transport)
 * @param options - transport, headers, catalog, backoff and the rest; see {@link ConnectOptions}
 * @returns the stream handle, already connecting
 * @throws `TaskwireError` with code `invalid-option` when the chosen transport has no
 *   constructor or `fetch` to run on, or an option is out of range
 * @example
 * ```ts
 * import { connect } from 'taskwire/client'
 *
 * const stream = connect('/api/jobs/7/events')
 * stream.on('agent.completed', (event) => console.log(event.data.role, event.data.durationMs))
 * stream.onStatus((status) => console.log(status))
 * // later
 * stream.close()
 * ```
 */
export function connect<C extends Catalog = DefaultCatalog>(
  url: string | URL,
  options: ConnectOptions<C> = {},
): StreamHandle<C> {
  const o = resolveConnectOptions(options)
  const transport = pickTransport(o)
  const href = String(url)
  const watchdogMs = transport === eventSourceTransport ? false : o.heartbeatTimeoutMs
  validateOptions(o)

  const handlers = new Map<string, Set<AnyHandler>>()
  const statusHandlers = new Set<(status: ConnectionStatus, error: TaskwireError | null) => void>()
  const listeners = new Set<() => void>()
  const queues = new Set<EventQueue<EventOf<C>>>()
  const counters: ConnectionStats = { attempts: 0, reconnects: 0, duplicates: 0, invalid: 0 }
  const closeOn = new Set(o.closeOn)
  const backoff = createBackoff(
    o.backoff === false ? { initialMs: 0, factor: 1, maxMs: 0 } : o.backoff,
    o.random,
  )

  let status: ConnectionStatus = 'connecting'
  let state: RunState = initialRunState
  let lastEventId: string | null = o.lastEventId
  let error: TaskwireError | null = null
  let snapshot: StreamSnapshot = Object.freeze({ status, state, lastEventId, error })
  let closed = false
  let gen = 0
  let controller: AbortController | undefined
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined
  let serverRetryMs: number | null = null
  let openedAt: number | undefined
  let retried401 = false
  let batchDepth = 0
  let dirty = false

  const report = (reason: unknown): void => {
    try {
      o.onError(reason)
    } catch (nested) {
      // onError itself threw: there is nowhere left to report it but the console.
      console.error('[taskwire] onError threw', nested, 'while reporting', reason)
    }
  }

  const flush = (): void => {
    if (!dirty || batchDepth > 0) return
    dirty = false
    if (
      snapshot.status === status &&
      snapshot.state === state &&
      snapshot.lastEventId === lastEventId &&
      snapshot.error === error
    ) {
      return
    }
    snapshot = Object.freeze({ status, state, lastEventId, error })
    for (const listener of [...listeners]) {
      try {
        listener()
      } catch (thrown) {
        report(thrown)
      }
    }
  }
  const changed = (): void => {
    dirty = true
    flush()
  }
  const batch = (run: () => void): void => {
    batchDepth++
    try {
      run()
    } finally {
      batchDepth--
      flush()
    }
  }

  const setStatus = (next: ConnectionStatus): void => {
    if (status === next) return
    status = next
    for (const handler of [...statusHandlers]) {
      try {
        handler(next, error)
      } catch (thrown) {
        report(thrown)
      }
    }
    changed()
  }

  const watchdog = createWatchdog(watchdogMs, () => {
    const silence = new TaskwireError(
      'timeout',
      `Nothing arrived for ${watchdogMs} ms (not even a heartbeat); reconnecting.`,
    )
    attemptEnded(gen, { type: 'retry', error: silence })
  })

  const decode = (message: EventMessage): ValidationResult<EventOf<C>> => {
    if (o.validate === 'strict') return decodeEvent(message, o.catalog)
    if (o.validate === 'passthrough') {
      return decodeEvent(message, o.catalog, { unknown: 'passthrough' }) as ValidationResult<EventOf<C>>
    }
    return parseTrusted(message) as ValidationResult<EventOf<C>>
  }

  const reportInvalid = (failure: TaskwireValidationError, message: EventMessage): void => {
    counters.invalid++
    try {
      if (o.onInvalid) o.onInvalid(failure, message)
      else report(failure)
    } catch (thrown) {
      report(thrown)
    }
  }

  const advance = (id: string | undefined): void => {
    if (id === undefined) return
    if (id === '') {
      // WHATWG: an empty id clears the last event id, so the next attempt does not resume.
      lastEventId = null
      changed()
      return
    }
    if (isSeenEventId(id, lastEventId)) return
    lastEventId = id
    changed()
  }

  const dispatch = (event: EventOf<C>): void => {
    for (const type of [event.type, '*']) {
      const set = handlers.get(type)
      if (!set) continue
      for (const handler of [...set]) {
        if (closed) return
        try {
          ;(handler as (event: EventOf<C>) => void)(event)
        } catch (thrown) {
          report(thrown)
        }
      }
    }
  }

  let messageGen = 0
  const handleMessage = (message: EventMessage): void => {
    if (closed || messageGen !== gen) return
    const result = decode(message)
    if (!result.ok) {
      advance(message.id)
      reportInvalid(result.error, message)
      return
    }
    const event = result.value
    // A reset replaces everything the client had, whatever its id: a restarted server (or a
    // memory broker that evicted the stream) numbers from 1 again and resets to its own id.
    if (event.type !== 'stream.reset' && isSeenEventId(event.id, lastEventId)) {
      counters.duplicates++
      return
    }
    lastEventId = message.id !== undefined && message.id !== '' ? message.id : event.id
    state = reduceRun(state, event as Envelope)
    backoff.reset()
    dirty = true
    for (const queue of queues) queue.push(event)
    dispatch(event)
    if (closed || closeOn.size === 0) return
    // A snapshot or reset of a run that already ended is as final as the terminal event it
    // stands for; without this the client would reconnect once only to be answered 204.
    const ended = closeOn.has(event.type) || (RESTATING.has(event.type) && ENDED_STATUSES.has(state.status))
    if (ended) finish(null)
  }

  const applyReset = (value: unknown, id: string | null): void => {
    const parsed =
      o.validate === false
        ? { success: true as const, data: value as RunState }
        : runStateSchema.safeParse(value)
    if (!parsed.success) {
      const message = 'The poll answer held a reset state that is not a RunState.'
      const failure = new TaskwireValidationError(
        message,
        [{ path: 'reset', message, code: 'invalid-frame' }],
        {
          code: 'invalid-frame',
          cause: parsed.error,
        },
      )
      reportInvalid(failure, { data: JSON.stringify(value) })
      return
    }
    state = parsed.data
    lastEventId = id
    changed()
    if (closeOn.size > 0 && ENDED_STATUSES.has(state.status)) finish(null)
  }

  const decoder = createSseDecoder(
    {
      onEvent: handleMessage,
      onId: (id) => {
        if (!closed && messageGen === gen) advance(id)
      },
      onRetry: (ms) => {
        serverRetryMs = ms
      },
      onOverflow: (chars) => {
        const message = `An event took more than ${o.maxEventChars} characters (${chars} so far); raise maxEventChars if that is expected.`
        attemptEnded(messageGen, { type: 'fatal', error: new TaskwireError('event-too-large', message) })
      },
    },
    { maxEventChars: o.maxEventChars },
  )

  const stopAttempt = (): void => {
    gen++
    controller?.abort()
    controller = undefined
    watchdog.stop()
    if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
    reconnectTimer = undefined
  }

  const finish = (failure: TaskwireError | null): void => {
    if (closed) return
    stopAttempt()
    closed = true
    error = failure
    o.signal?.removeEventListener('abort', onAbort)
    for (const queue of queues) queue.end(failure ?? undefined)
    queues.clear()
    batch(() => setStatus('closed'))
    handlers.clear()
    statusHandlers.clear()
    if (failure) report(failure)
  }

  const scheduleReconnect = (retryAfterMs: number | undefined, immediate = false): void => {
    if (o.backoff !== false && openedAt !== undefined && Date.now() - openedAt >= o.backoff.resetAfterMs) {
      backoff.reset()
    }
    const delay = immediate ? 0 : backoff.next({ baseMs: serverRetryMs, retryAfterMs })
    counters.reconnects++
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      startAttempt()
    }, delay)
    batch(() => {
      changed()
      setStatus('reconnecting')
    })
  }

  function attemptEnded(attemptGen: number, outcome: AttemptOutcome): void {
    if (closed || attemptGen !== gen) return
    stopAttempt()
    if (outcome.type === 'done') {
      finish(null)
    } else if (outcome.type === 'fatal') {
      const failure = outcome.error
      if (o.retryOn401 && !retried401 && failure instanceof TaskwireHttpError && failure.status === 401) {
        retried401 = true
        error = failure
        scheduleReconnect(undefined, true)
      } else {
        finish(failure)
      }
    } else if (o.backoff === false) {
      finish(outcome.error ?? null)
    } else {
      error = outcome.error ?? null
      scheduleReconnect(outcome.retryAfterMs)
    }
  }

  function startAttempt(): void {
    if (closed) return
    stopAttempt()
    const attemptGen = gen
    const attempt = new AbortController()
    controller = attempt
    counters.attempts++
    openedAt = undefined
    decoder.reset()
    watchdog.kick()
    const live = (): boolean => !closed && attemptGen === gen
    const sink: TransportSink = {
      open() {
        if (!live()) return
        openedAt = Date.now()
        retried401 = false
        batch(() => {
          error = null
          changed()
          setStatus('open')
        })
      },
      activity() {
        if (live()) watchdog.kick()
      },
      idle() {
        if (live()) watchdog.stop()
      },
      text(chunk) {
        if (!live()) return
        watchdog.kick()
        messageGen = attemptGen
        batch(() => decoder.feed(chunk))
      },
      message(message) {
        if (!live()) return
        watchdog.kick()
        messageGen = attemptGen
        batch(() => handleMessage(message))
      },
      poll(result: PollBatch) {
        if (!live()) return
        watchdog.kick()
        messageGen = attemptGen
        batch(() => {
          if (result.reset !== undefined) applyReset(result.reset, result.lastEventId)
          for (const envelope of result.events) {
            if (!live()) return
            handleMessage(toMessage(envelope))
          }
          if (result.lastEventId !== null) advance(result.lastEventId)
        })
      },
      end(outcome) {
        attemptEnded(attemptGen, outcome)
      },
    }
    const request: TransportRequest = {
      url: href,
      lastEventId: () => lastEventId,
      signal: attempt.signal,
      headers: o.headers,
    }
    try {
      transport(request, sink, o)
    } catch (thrown) {
      attemptEnded(attemptGen, {
        type: 'fatal',
        error: new TaskwireError('invalid-option', `The transport could not start: ${String(thrown)}`, {
          cause: thrown,
        }),
      })
    }
  }

  const onAbort = (): void => finish(null)

  const handle: StreamHandle<C> = {
    on(type, handler) {
      if (closed) return () => {}
      let set = handlers.get(type)
      if (!set) {
        set = new Set()
        handlers.set(type, set)
      }
      const entry = handler as AnyHandler
      set.add(entry)
      return () => {
        handlers.get(type)?.delete(entry)
      }
    },
    onStatus(handler) {
      if (closed) return () => {}
      statusHandlers.add(handler)
      return () => {
        statusHandlers.delete(handler)
      }
    },
    get status() {
      return status
    },
    get state() {
      return state
    },
    get lastEventId() {
      return lastEventId
    },
    get error() {
      return error
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    getSnapshot: () => snapshot,
    stats: () => ({ ...counters }),
    reconnect() {
      if (closed) return
      backoff.reset()
      startAttempt()
      if (!closed && status !== 'connecting') setStatus('reconnecting')
    },
    close: () => finish(null),
    [Symbol.asyncIterator]() {
      const queue = createEventQueue<EventOf<C>>(o.iteratorBufferSize, () => queues.delete(queue))
      if (closed) queue.end(error ?? undefined)
      else queues.add(queue)
      return queue
    },
  }

  if (o.signal?.aborted) {
    finish(null)
  } else {
    o.signal?.addEventListener('abort', onAbort, { once: true })
    startAttempt()
  }
  return handle
}

function pickTransport(o: ResolvedConnectOptions): Transport {
  switch (o.transport) {
    case 'eventsource':
      return eventSourceTransport
    case 'fetch':
      return fetchTransport
    case 'websocket':
      return websocketTransport
    case 'polling':
      return pollingTransport
    default: {
      const plainGet = o.method === 'GET' && o.body === undefined
      return plainGet && o.EventSource && !o.hasHeaders ? eventSourceTransport : fetchTransport
    }
  }
}

function validateOptions(o: ResolvedConnectOptions): void {
  const need = (ok: unknown, what: string): void => {
    if (!ok) throw new TaskwireError('invalid-option', what)
  }
  if (o.transport === 'eventsource') {
    need(
      o.EventSource,
      'No EventSource constructor: pass one as `EventSource` (the `eventsource` package in Node).',
    )
    need(
      o.method === 'GET' && o.body === undefined,
      'EventSource sends GET without a body; use transport `fetch`.',
    )
  }
  if (o.transport === 'websocket') {
    need(o.WebSocket, 'No WebSocket constructor: pass one as `WebSocket` (the `ws` package in Node 20).')
  }
  if (o.transport === 'fetch' || o.transport === 'polling' || (o.transport === 'auto' && !o.EventSource)) {
    need(o.fetch, 'No fetch available: pass one as `fetch`.')
  }
  if (o.backoff !== false) {
    const { initialMs, factor, maxMs } = o.backoff
    need(
      initialMs >= 0 && factor >= 1 && maxMs >= 0,
      'backoff needs initialMs >= 0, factor >= 1, maxMs >= 0.',
    )
  }
  need(o.heartbeatTimeoutMs === false || o.heartbeatTimeoutMs > 0, 'heartbeatTimeoutMs must be > 0 or false.')
  need(o.pollIntervalMs >= 0, 'pollIntervalMs must be >= 0.')
  need(o.iteratorBufferSize >= 1, 'iteratorBufferSize must be >= 1.')
}

function toMessage(envelope: unknown): EventMessage {
  const fields = (typeof envelope === 'object' && envelope !== null ? envelope : {}) as Record<
    string,
    unknown
  >
  return {
    data: JSON.stringify(envelope),
    id: typeof fields.id === 'string' ? fields.id : undefined,
  }
}

function parseTrusted(message: EventMessage): ValidationResult<Envelope> {
  let value: unknown
  try {
    value = JSON.parse(message.data)
  } catch (cause) {
    return invalidFrame('The data field is not JSON; taskwire frames carry a JSON envelope.', cause)
  }
  const fields = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  if (typeof fields.type !== 'string' || typeof fields.id !== 'string') {
    return invalidFrame('The data field is not a taskwire envelope: it needs a string type and id.')
  }
  return { ok: true, value: value as Envelope }
}

function invalidFrame(message: string, cause?: unknown): { ok: false; error: TaskwireValidationError } {
  return {
    ok: false,
    error: new TaskwireValidationError(message, [{ path: 'data', message, code: 'invalid-frame' }], {
      code: 'invalid-frame',
      cause,
    }),
  }
}
