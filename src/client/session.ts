import { type EventMessage, TaskwireError, TaskwireHttpError } from '../core/index.js'
import { createBackoff } from './backoff.js'
import type { ResolvedConnectOptions } from './options.js'
import { createSseDecoder, type SseDecoder } from './sse-decoder.js'
import type { ConnectionStats } from './stream-handle.js'
import type { AttemptOutcome, TransportSink } from './transport.js'
import { createWatchdog } from './watchdog.js'

/** What a session tells the handle. */
export interface SessionEvents {
  /** An attempt was accepted by the server. */
  opened(): void
  /** SSE text arrived. */
  text(chunk: string): void
  /** A parsed message arrived (EventSource). */
  message(message: EventMessage): void
  /** The cursor to resume after. */
  lastEventId(): string | null
  /** An attempt failed and another is scheduled. */
  reconnecting(error: TaskwireError | null): void
  /** The stream is over (done, fatal, or a drop with backoff off). */
  ended(error: TaskwireError | null): void
  /** Something the app should know that does not change the status (`stream-buffered`). */
  warn(error: TaskwireError): void
}

/** The connection attempts of one handle: start, retry with backoff, watch, stop. */
export interface Session {
  /** True from start() until stop() or the end: an attempt runs or one is scheduled. */
  readonly running: boolean
  /** Starts connecting. */
  start(): void
  /** Stops every attempt and timer; start() may follow. */
  stop(): void
  /** Drops the current attempt and connects again now. */
  restart(): void
  /** An event arrived: the next failure starts from the first backoff window. */
  healthy(): void
  /**
   * Creates the SSE decoder of this session: its `retry:` and size bound belong here.
   *
   * @param onEvent - a whole event
   * @param onId - an id field, even on an event without data
   * @returns the decoder, reset at every attempt
   */
  decoder(onEvent: (message: EventMessage) => void, onId: (id: string) => void): SseDecoder
}

/**
 * Creates the attempt lifecycle of a handle: one attempt at a time, a first-response
 * timeout, a silence watchdog once open, and reconnections after the server's floor plus a
 * growing window of jitter.
 *
 * @param o - the resolved options
 * @param counters - the handle's counters, updated here
 * @param events - where the session reports
 * @returns the session, stopped
 */
export function createSession(
  o: ResolvedConnectOptions,
  counters: ConnectionStats,
  events: SessionEvents,
): Session {
  const backoff = o.backoff ? createBackoff(o.backoff, o.random) : undefined
  let running = false
  let gen = 0
  let controller: AbortController | undefined
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined
  let openTimer: ReturnType<typeof setTimeout> | undefined
  let serverRetryMs: number | null = null
  let openedAt: number | undefined
  let retried401 = false
  let decoder: SseDecoder | undefined
  let transport = o.transport
  // When the attempt's first bytes came, how many events it brought, and how many responses
  // so far came whole in one late burst (a buffering proxy).
  let firstAt = 0
  let received = 0
  let bursts = 0

  const watchdog = createWatchdog(o.heartbeatTimeoutMs, () => {
    const silence = new TaskwireError('timeout', `Silent for ${o.heartbeatTimeoutMs} ms; reconnecting.`)
    attemptEnded(gen, { type: 'retry', error: silence })
  })

  const stopAttempt = (): void => {
    // Silent for a second after the headers (a taskwire hub writes `retry:` at once), then
    // every event and the end within 100 ms: something held the response and let it go whole.
    if (received > 1 && firstAt - (openedAt as number) > 999 && Date.now() - firstAt < 100) {
      events.warn(
        new TaskwireError(
          'stream-buffered',
          `${received} events came at once as the response ended: a proxy buffers the stream.`,
        ),
      )
      if (++bursts > 1 && o.bufferedFallback) transport = o.bufferedFallback
    }
    received = firstAt = 0
    gen++
    controller?.abort()
    controller = undefined
    watchdog.stop()
    clearTimeout(reconnectTimer)
    clearTimeout(openTimer)
    reconnectTimer = undefined
    openTimer = undefined
  }

  const scheduleReconnect = (retryAfterMs: number | undefined, immediate: boolean): void => {
    if (o.backoff && openedAt !== undefined && Date.now() - openedAt >= o.backoff.resetAfterMs) {
      backoff?.reset()
    }
    const floor = Math.max(serverRetryMs ?? 0, retryAfterMs ?? 0)
    const delay = immediate || !backoff ? 0 : backoff.next(floor)
    counters.reconnects++
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      startAttempt()
    }, delay)
  }

  function attemptEnded(attemptGen: number, outcome: AttemptOutcome): void {
    if (!running || attemptGen !== gen) return
    stopAttempt()
    const error = outcome.type === 'done' ? null : (outcome.error ?? null)
    const retry401 =
      outcome.type === 'fatal' &&
      o.retryOn401 &&
      !retried401 &&
      error instanceof TaskwireHttpError &&
      error.status === 401
    if (retry401 || (outcome.type === 'retry' && backoff)) {
      retried401 ||= retry401
      scheduleReconnect(outcome.type === 'retry' ? outcome.retryAfterMs : undefined, retry401)
      events.reconnecting(error)
    } else {
      running = false
      // With backoff off, a drop ends the stream, and says why even when it was a clean end.
      events.ended(
        outcome.type === 'retry'
          ? (error ?? new TaskwireError('network', 'The connection ended; backoff is off.'))
          : error,
      )
    }
  }

  function startAttempt(): void {
    if (!running) return
    stopAttempt()
    const attemptGen = gen
    const attempt = new AbortController()
    controller = attempt
    counters.attempts++
    openedAt = undefined
    decoder?.reset()
    if (o.openTimeoutMs !== false) {
      const ms = o.openTimeoutMs
      openTimer = setTimeout(() => {
        const late = new TaskwireError('timeout', `No answer in ${ms} ms; reconnecting.`)
        attemptEnded(attemptGen, { type: 'retry', error: late })
      }, ms)
    }
    const live = (): boolean => running && attemptGen === gen
    const sink: TransportSink = {
      open() {
        if (!live()) return
        clearTimeout(openTimer)
        openedAt = Date.now()
        retried401 = false
        watchdog.kick()
        events.opened()
      },
      activity() {
        if (live()) watchdog.kick()
      },
      idle() {
        if (live()) watchdog.stop()
      },
      text(chunk) {
        if (!live()) return
        firstAt ||= Date.now()
        watchdog.kick()
        events.text(chunk)
      },
      message(message) {
        if (!live()) return
        firstAt ||= Date.now()
        events.message(message)
      },
      end(outcome) {
        attemptEnded(attemptGen, outcome)
      },
    }
    try {
      transport.open(
        { url: o.url, lastEventId: events.lastEventId, signal: attempt.signal, headers: o.headers },
        sink,
        o,
      )
    } catch (thrown) {
      attemptEnded(attemptGen, {
        type: 'fatal',
        error: new TaskwireError('invalid-option', `The transport failed: ${String(thrown)}`, {
          cause: thrown,
        }),
      })
    }
  }

  return {
    get running() {
      return running
    },
    start() {
      if (running) return
      running = true
      startAttempt()
    },
    stop() {
      running = false
      stopAttempt()
    },
    restart() {
      if (!running) return
      backoff?.reset()
      startAttempt()
      events.reconnecting(null)
    },
    healthy() {
      received++
      backoff?.reset()
    },
    decoder(onEvent, onId) {
      decoder = createSseDecoder(
        {
          onEvent,
          onId,
          onRetry: (ms) => {
            serverRetryMs = ms
          },
          onOverflow: (chars) => {
            const message = `An event passed maxEventChars (${chars} characters).`
            attemptEnded(gen, { type: 'fatal', error: new TaskwireError('event-too-large', message) })
          },
        },
        { maxEventChars: o.maxEventChars },
      )
      return decoder
    },
  }
}
