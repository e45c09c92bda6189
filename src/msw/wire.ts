import { type Catalog, type Envelope, encodeEvent, TaskwireError, validateEventData } from '../core/index.js'
import type { ConnectionRecord } from './connection-log.js'
import type { IdSequence } from './id-sequence.js'
import type { RespondInit, StreamInfo } from './types.js'

/**
 * The response headers of a stream, as the hub sends them over HTTP/1.1 (without
 * `Connection`, which a `Response` built in a service worker may not carry).
 */
const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
})

/**
 * One connection as a script drives it, without ordering: the controller queues calls in
 * front of it, and the fault presets wrap it (a buffering proxy holds its writes, a slow drip
 * splits them).
 */
export interface Wire {
  /** The request. */
  readonly info: StreamInfo
  /** The catalog events are validated against. */
  readonly catalog: Catalog
  /** The handler's ids. */
  readonly ids: IdSequence
  /** Aborted when the client has gone. */
  readonly signal: AbortSignal
  /**
   * What the presets keep from one request to the next, per handler (an expired token, say);
   * emptied by the handler's `clear()`.
   */
  readonly store: Map<symbol, unknown>
  /**
   * Builds an event's envelope, validated, with its id taken now, and records it as sent on
   * this connection.
   *
   * @param type - the event type
   * @param data - the payload
   * @param id - an explicit id or sequence number
   * @returns the envelope
   * @throws {@link TaskwireValidationError} for a payload or type the catalog refuses
   */
  envelope(type: string, data: unknown, id: string | number | undefined): Envelope
  /**
   * Frames an envelope as the hub does for this request's framing.
   *
   * @param envelope - the event
   * @returns the frame text
   */
  frame(envelope: Envelope): string
  /**
   * Writes bytes, starting the 200 response first if needed.
   *
   * @param bytes - the bytes
   * @returns a promise that resolves once the client has taken them
   */
  write(bytes: Uint8Array): Promise<void>
  /** @returns a promise that resolves once the 200 response has started */
  open(): Promise<void>
  /** @returns a promise that resolves once the connection is cut */
  drop(): Promise<void>
  /** @returns a promise that resolves once the response has ended */
  close(): Promise<void>
  /**
   * Answers a status instead of a stream.
   *
   * @param status - the status
   * @param init - headers and body
   * @returns a promise that resolves once answered
   */
  respond(status: number, init: RespondInit | undefined): Promise<void>
  /**
   * Waits on the global `setTimeout` of the moment, or until the client goes.
   *
   * @param ms - milliseconds
   * @returns a promise that resolves when the time has passed
   */
  wait(ms: number): Promise<void>
  /**
   * Counts a controller's queue as the connection's work, so the end of the script waits for
   * the calls it made without awaiting them.
   *
   * @param tail - gives the last promise of the queue
   */
  track(tail: () => Promise<unknown>): void
}

/** A connection: its wire, the response msw is waiting for, and how the script ended. */
export interface Connection {
  /** What the script drives. */
  readonly wire: Wire
  /** Settles once the script has decided what to answer. */
  readonly response: Promise<Response>
  /**
   * The script returned: once the calls it made have run, a response not yet started
   * starts, and stays open.
   *
   * @returns a promise that resolves once that is done
   */
  scriptEnded(): Promise<void>
  /**
   * The script threw: the connection fails.
   *
   * @param error - what it threw
   */
  scriptFailed(error: unknown): void
}

/** What a connection needs from its handler. */
export interface ConnectionOptions {
  /** The request. */
  info: StreamInfo
  /** The handler's catalog. */
  catalog: Catalog
  /** The handler's ids. */
  ids: IdSequence
  /** Where the connection is recorded. */
  record: ConnectionRecord
  /** The handler's store for presets. */
  store: Map<symbol, unknown>
  /** Where script errors go. */
  onError: (error: unknown) => void
}

const encoder = new TextEncoder()

/**
 * How long a drop waits, in a page whose requests a service worker answers, before it cuts
 * the stream. There the frames travel from the page to msw's worker and back to the page's
 * fetch, and Chromium fails a fetch whose body errors without delivering the bytes still in
 * flight; a pause of 2 ms already lost none of 150 drops in a row.
 */
const WORKER_DROP_GRACE_MS = 20

// The timer of the module's load, not of a test's fake clock: the grace is real plumbing
// time, which no scripted clock advances.
const realSetTimeout = globalThis.setTimeout

/** True in a page controlled by a service worker (msw's `setupWorker`), false in Node. */
function behindServiceWorker(): boolean {
  const page = globalThis as { navigator?: { serviceWorker?: { controller?: unknown } } }
  return Boolean(page.navigator?.serviceWorker?.controller)
}

/**
 * Opens a connection for one request: the response stays undecided until the script writes,
 * opens, drops, closes, answers a status or returns.
 *
 * @param options - the request, catalog, ids, record and error sink
 * @returns the connection
 */
export function createConnection(options: ConnectionOptions): Connection {
  const { info, catalog, ids, record } = options
  const left = new AbortController()
  let answer: (response: Response) => void = () => {}
  const response = new Promise<Response>((resolve) => {
    answer = resolve
  })
  let phase: 'pending' | 'streaming' | 'ended' = 'pending'
  let body: ReadableStreamDefaultController<Uint8Array> | undefined
  let pullWaiters: (() => void)[] = []
  const queues: (() => Promise<unknown>)[] = []

  // Wakes whoever waits for the reader to come back for more.
  const wakePullers = (): void => {
    const waiting = pullWaiters
    pullWaiters = []
    for (const wake of waiting) wake()
  }

  const leave = (): void => {
    if (left.signal.aborted) return
    if (record.end === null) record.end = 'client-closed'
    left.abort()
    wakePullers()
    // msw still waits for an answer when the client left first; it goes nowhere.
    if (phase === 'pending') answer(Response.error())
    phase = 'ended'
  }
  info.request.signal.addEventListener('abort', leave, { once: true })

  const start = (): void => {
    if (phase !== 'pending') return
    phase = 'streaming'
    // highWaterMark 0: the stream pulls only when its reader asks, so a pull after a write
    // proves the reader took everything written before it.
    const stream = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          body = controller
        },
        pull() {
          wakePullers()
        },
        cancel() {
          leave()
        },
      },
      { highWaterMark: 0 },
    )
    record.status = 200
    answer(new Response(stream, { status: 200, headers: SSE_HEADERS }))
  }

  /** Rejects a call made after the script itself ended the connection. */
  const ended = (what: string): Promise<never> =>
    Promise.reject(
      new TaskwireError(
        'stream-closed',
        `${what} after the script ended the connection (${record.end}); end a script with one close(), drop() or respond().`,
      ),
    )

  const end = (how: 'closed' | 'dropped' | 'responded' | 'failed'): void => {
    phase = 'ended'
    record.end = how
    info.request.signal.removeEventListener('abort', leave)
    // Nothing more will be read: a write still waiting for its reader resolves.
    wakePullers()
  }

  const wire: Wire = {
    info,
    catalog,
    ids,
    signal: left.signal,
    store: options.store,
    envelope(type, data, id) {
      const result = validateEventData(catalog, type, data)
      if (!result.ok) throw result.error
      let eventId: string
      if (id === undefined) eventId = ids.next()
      else if (typeof id === 'number') {
        if (!Number.isSafeInteger(id) || id < 0) {
          throw new TaskwireError('invalid-option', `A numeric id is a sequence number >= 0, got ${id}.`)
        }
        eventId = ids.idFor(id)
      } else eventId = id
      if (id !== undefined) ids.note(eventId)
      // The hub's field order, so the frame is byte for byte the hub's.
      const envelope: Envelope = {
        type,
        stream: info.stream,
        id: eventId,
        ts: new Date().toISOString(),
        data: result.value,
      }
      record.events.push(envelope)
      return envelope
    },
    frame: (envelope) => encodeEvent(envelope, { framing: info.framing }),
    write(bytes) {
      if (left.signal.aborted) return Promise.resolve()
      if (phase === 'ended') return ended('A write')
      start()
      const taken = new Promise<void>((resolve) => pullWaiters.push(resolve))
      body?.enqueue(bytes)
      return taken
    },
    open() {
      if (left.signal.aborted) return Promise.resolve()
      if (phase === 'ended') return ended('open()')
      start()
      return Promise.resolve()
    },
    async drop() {
      if (left.signal.aborted) return
      if (phase === 'ended') return ended('drop()')
      if (phase === 'streaming' && behindServiceWorker()) {
        await new Promise((resolve) => realSetTimeout(resolve, WORKER_DROP_GRACE_MS))
        if (left.signal.aborted || phase !== 'streaming') return
      }
      if (phase === 'pending') {
        record.status = 0
        answer(Response.error())
      } else {
        body?.error(new TypeError('The connection was dropped (a taskwire/msw script called drop()).'))
      }
      end('dropped')
    },
    close() {
      if (left.signal.aborted) return Promise.resolve()
      if (phase === 'ended') return ended('close()')
      start()
      body?.close()
      end('closed')
      return Promise.resolve()
    },
    respond(status, init) {
      if (left.signal.aborted) return Promise.resolve()
      if (phase === 'ended') return ended('respond()')
      if (phase === 'streaming') {
        return Promise.reject(
          new TaskwireError(
            'stream-closed',
            `respond(${status}) came after the stream started; answer a status before the first frame and open(), or on the next attempt.`,
          ),
        )
      }
      let reply: Response
      try {
        const noBody = status === 204 || status === 205 || status === 304
        reply = new Response(noBody ? null : (init?.body ?? null), { status, headers: init?.headers ?? {} })
      } catch (cause) {
        return Promise.reject(
          new TaskwireError('invalid-option', `respond(${status}) cannot answer: ${String(cause)}`, {
            cause,
          }),
        )
      }
      record.status = status
      end('responded')
      answer(reply)
      return Promise.resolve()
    },
    wait(ms) {
      if (left.signal.aborted) return Promise.resolve()
      // The global of the moment: vitest's fake timers replace it after this module loaded.
      const { setTimeout: later, clearTimeout: cancel } = globalThis
      return new Promise<void>((resolve) => {
        const done = (): void => {
          left.signal.removeEventListener('abort', done)
          cancel(timer)
          resolve()
        }
        const timer = later(done, ms)
        left.signal.addEventListener('abort', done, { once: true })
      })
    },
    track(tail) {
      queues.push(tail)
    },
  }

  return {
    wire,
    response,
    async scriptEnded() {
      // A queue may grow while its tail is awaited (a preset's inner script): wait again
      // until no queue has moved, a bounded number of times.
      for (let round = 0; round < 100; round++) {
        const tails = queues.map((tail) => tail())
        await Promise.all(tails)
        if (queues.every((tail, i) => tail() === tails[i])) break
      }
      if (phase === 'pending' && !left.signal.aborted) start()
    },
    scriptFailed(error) {
      options.onError(error)
      if (left.signal.aborted || phase === 'ended') return
      if (phase === 'pending') {
        record.status = 500
        answer(new Response(`The taskwire/msw script threw: ${String(error)}`, { status: 500 }))
      } else {
        body?.error(error)
      }
      end('failed')
    },
  }
}

/**
 * Encodes text as UTF-8.
 *
 * @param text - the text
 * @returns its bytes
 */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}
