import {
  type Catalog,
  type DefaultCatalog,
  type Envelope,
  type EventMessage,
  type EventOf,
  isSeenEventId,
  type TaskwireError,
  type TaskwireValidationError,
  type ValidationResult,
} from '../core/index.js'
import { decodeMessage } from './decode.js'
import { createEventQueue, type EventQueue } from './event-queue.js'
import { type ConnectOptions, resolveConnectOptions } from './options.js'
import { createSession } from './session.js'
import type {
  ConnectionStats,
  ConnectionStatus,
  Resync,
  StreamHandle,
  StreamSnapshot,
} from './stream-handle.js'

type Handler = (event: Envelope) => void

const RESTATING = new Set(['stream.snapshot', 'stream.reset'])
const ENDED = new Set<unknown>(['completed', 'failed', 'cancelled'])

/**
 * Opens a stream handle: inert until its first subscriber, then connected and kept so, with
 * backoff and full jitter after any drop, resume after the last event id and duplicates
 * dropped; it disconnects `lingerMs` after its last subscriber, and closes for good after a
 * terminal event or an HTTP 204.
 *
 * @param url - the stream's URL (absolute, or relative to the page in a browser)
 * @param options - transport, headers, catalog, backoff and the rest; see {@link ConnectOptions}
 * @returns the stream handle, not yet connected
 * @throws {@link taskwire!TaskwireError} `invalid-option` for a relative URL without a page,
 *   a transport that is not one or lacks what it needs, or an option out of range
 * @example
 * ```ts
 * import { connect } from 'taskwire/client'
 *
 * const stream = connect('https://example.com/api/jobs/7/events')
 * const stop = stream.on('agent.completed', (event) => console.log(event.data.role, event.data.durationMs))
 * // later: the last subscriber leaving closes the connection
 * stop()
 * ```
 */
export function connect<C extends Catalog = DefaultCatalog>(
  url: string | URL,
  options: ConnectOptions<C> = {},
): StreamHandle<C> {
  const o = resolveConnectOptions(url, options as ConnectOptions<Catalog>)
  const handlers = new Map<string, Set<Handler>>()
  const taps = new Set<Handler>()
  const statusHandlers = new Set<(status: ConnectionStatus, error: TaskwireError | null) => void>()
  const resyncHandlers = new Set<(resync: Resync) => void>()
  const listeners = new Set<() => void>()
  const queues = new Set<EventQueue<EventOf<C>>>()
  const counters: ConnectionStats = { attempts: 0, reconnects: 0, duplicates: 0, invalid: 0 }

  let status: ConnectionStatus = 'idle'
  let lastEventId: string | null = o.lastEventId
  let error: TaskwireError | null = null
  let resync: Resync | null = null
  const serverSnapshot: StreamSnapshot = Object.freeze({ status, lastEventId, error, resync })
  let snapshot = serverSnapshot
  let closed = false
  let watchers = 0
  let lingerTimer: ReturnType<typeof setTimeout> | undefined
  let batchDepth = 0
  // How the current connection continues the stream, decided at the end of its first batch.
  let opening: { cursor: string | null; events: number; kind: Resync | null } | undefined

  const report = (reason: unknown): void => {
    try {
      o.onError(reason)
    } catch (nested) {
      // onError itself threw: there is nowhere left to report it but the console.
      console.error(nested, reason)
    }
  }
  const call = <A extends unknown[]>(fn: (...args: A) => void, ...args: A): void => {
    try {
      fn(...args)
    } catch (thrown) {
      report(thrown)
    }
  }
  /** Calls each of a set's functions; a copy, so one that unsubscribes skips no other. */
  const callEach = <A extends unknown[]>(fns: Iterable<(...args: A) => void>, ...args: A): void => {
    for (const fn of [...fns]) call(fn, ...args)
  }

  const flush = (): void => {
    if (batchDepth > 0) return
    const s = snapshot
    if (s.status === status && s.lastEventId === lastEventId && s.error === error && s.resync === resync)
      return
    snapshot = Object.freeze({ status, lastEventId, error, resync })
    callEach(listeners)
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

  const setStatus = (next: ConnectionStatus, failure: TaskwireError | null = error): void => {
    error = failure
    if (status !== next) {
      status = next
      callEach(statusHandlers, next, error)
    }
    flush()
  }

  const reportInvalid = (failure: TaskwireValidationError, message: EventMessage): void => {
    counters.invalid++
    if (o.onInvalid) call(o.onInvalid, failure, message)
    else report(failure)
  }

  const advance = (id: string | undefined): void => {
    if (id === undefined) return
    // WHATWG §9.2.6: an empty id clears the last event id, so the next attempt does not resume.
    if (id === '') lastEventId = null
    else if (!isSeenEventId(id, lastEventId)) lastEventId = id
    flush()
  }

  const deliver = (result: ValidationResult<Envelope>, message: EventMessage): void => {
    if (closed) return
    if (!result.ok) {
      advance(message.id)
      reportInvalid(result.error, message)
      return
    }
    const event = result.value
    // A reset replaces everything the client had, whatever its id: it comes from a log that
    // did not issue the client's cursor (a restarted server), so the ids cannot be compared.
    if (event.type !== 'stream.reset' && isSeenEventId(event.id, lastEventId)) {
      counters.duplicates++
      return
    }
    lastEventId = message.id ? message.id : event.id
    session.healthy()
    if (opening) {
      if (event.type === 'stream.reset') {
        opening.kind = { kind: 'reset', reason: String((event.data as { reason?: unknown })?.reason) }
      } else if (event.type === 'stream.snapshot' && opening.events === 0) opening.kind = { kind: 'snapshot' }
      opening.events++
    }
    callEach(taps, event)
    for (const queue of queues) queue.push(event as EventOf<C>)
    for (const type of [event.type, '*']) {
      for (const handler of [...(handlers.get(type) ?? [])]) {
        if (closed) return
        call(handler, event)
      }
    }
    // A snapshot or reset of a run that already ended is as final as the terminal event it
    // stands for; without this the client would reconnect once only to be answered 204.
    const status = (event.data as { state?: { status?: unknown } } | null)?.state?.status
    const ended = RESTATING.has(event.type) && o.closeOn.size > 0 && ENDED.has(status)
    if (!closed && (ended || o.closeOn.has(event.type))) finish(null)
  }

  const handleMessage = (message: EventMessage): void =>
    deliver(decodeMessage(message, o.catalog, o.validate), message)

  /** Ends the first batch of a connection: it tells how the stream continued. */
  const settleOpening = (): void => {
    if (!opening || closed) return
    const { cursor, events, kind } = opening
    opening = undefined
    resync =
      kind ??
      (cursor === null ? { kind: 'fresh' } : events > 0 ? { kind: 'replayed', events } : { kind: 'resumed' })
    callEach(resyncHandlers, resync)
    flush()
  }

  const session = createSession(o, counters, {
    opened() {
      opening = { cursor: lastEventId, events: 0, kind: null }
      setStatus('open', null)
    },
    text: (chunk) =>
      batch(() => {
        decoder.feed(chunk)
        settleOpening()
      }),
    message: (message) =>
      batch(() => {
        handleMessage(message)
        settleOpening()
      }),
    lastEventId: () => lastEventId,
    reconnecting: (failure) => setStatus('reconnecting', failure),
    ended: (failure) => finish(failure),
    warn: report,
  })
  const decoder = session.decoder(handleMessage, advance)

  const finish = (failure: TaskwireError | null): void => {
    if (closed) return
    closed = true
    clearTimeout(lingerTimer)
    session.stop()
    opening = undefined
    o.signal?.removeEventListener('abort', onAbort)
    for (const queue of queues) queue.end(failure ?? undefined)
    queues.clear()
    setStatus('closed', failure)
    handlers.clear()
    taps.clear()
    statusHandlers.clear()
    resyncHandlers.clear()
    if (failure) report(failure)
  }
  const onAbort = (): void => finish(null)

  /** Counts a subscriber; the first one opens the stream. */
  const watch = (): (() => void) => {
    if (closed) return () => {}
    watchers++
    clearTimeout(lingerTimer)
    lingerTimer = undefined
    if (!session.running) {
      setStatus('connecting', null)
      session.start()
    }
    let counted = true
    return () => {
      if (!counted) return
      counted = false
      watchers--
      if (watchers === 0 && !closed) lingerTimer = setTimeout(sleep, o.lingerMs)
    }
  }
  const sleep = (): void => {
    lingerTimer = undefined
    if (watchers > 0 || closed) return
    session.stop()
    opening = undefined
    setStatus('idle', null)
  }

  /** Adds to a set and counts as a subscriber until removed. */
  const subscribeTo = <T>(set: Set<T>, item: T): (() => void) => {
    if (closed) return () => {}
    set.add(item)
    const unwatch = watch()
    return () => {
      set.delete(item)
      unwatch()
    }
  }

  const handle: StreamHandle<C> = {
    on(type, handler) {
      let set = handlers.get(type)
      if (!set) {
        set = new Set()
        handlers.set(type, set)
      }
      return subscribeTo(set, handler as Handler)
    },
    tap(handler) {
      if (closed) return () => {}
      taps.add(handler)
      return () => {
        taps.delete(handler)
      }
    },
    onStatus: (handler) => subscribeTo(statusHandlers, handler),
    onResync: (handler) => subscribeTo(resyncHandlers, handler),
    subscribe: (listener) => subscribeTo(listeners, listener),
    get status() {
      return status
    },
    get lastEventId() {
      return lastEventId
    },
    get error() {
      return error
    },
    getSnapshot: () => snapshot,
    getServerSnapshot: () => serverSnapshot,
    stats: () => ({ ...counters }),
    reconnect() {
      if (closed) return
      if (session.running) session.restart()
      else watch()() // connects, and lingers out unless someone subscribes
    },
    close: () => finish(null),
    [Symbol.asyncIterator]() {
      let unwatch = (): void => {}
      const queue = createEventQueue<EventOf<C>>(o.iteratorBufferSize, () => {
        queues.delete(queue)
        unwatch()
      })
      if (closed) {
        queue.end(error ?? undefined)
      } else {
        queues.add(queue)
        unwatch = watch()
      }
      return queue
    },
  }

  if (o.signal?.aborted) finish(null)
  else o.signal?.addEventListener('abort', onAbort, { once: true })
  return handle
}
