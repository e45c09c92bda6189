import { afterEach, beforeEach, vi } from 'vitest'
import { connect } from '../../src/client/connect.js'
import type { ConnectOptions } from '../../src/client/options.js'
import { createRunStore } from '../../src/client/run-store.js'
import type { StreamHandle } from '../../src/client/stream-handle.js'
import { fetchTransport } from '../../src/client/transports/fetch.js'
import {
  type Catalog,
  type DefaultCatalog,
  type Envelope,
  encodeEvent,
  type Framing,
  type RunState,
} from '../../src/core/index.js'

const encoder = new TextEncoder()

/** Builds a default-catalog envelope for tests. */
export function envelope(id: number | string, type: string, data: unknown, stream = 'job-1'): Envelope {
  return { type, stream, id: String(id), ts: '2026-11-21T10:00:00.000Z', data }
}

/** One SSE frame for an event, as the hub writes it. */
export function frame(id: number | string, type: string, data: unknown, framing: Framing = 'named'): string {
  return encodeEvent(envelope(id, type, data), { framing })
}

/** A `task.progress` frame with the given id. */
export function progress(id: number): string {
  return frame(id, 'task.progress', { taskId: 't1', percent: id % 100 })
}

/** What the fake server answers to the next request. */
export type Reply =
  | { kind: 'stream'; contentType?: string }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'json'; body: unknown }
  | { kind: 'network' }
  | { kind: 'hang' }

/** A request the fake fetch received, and its response stream when it got one. */
export interface FakeRequest {
  url: string
  method: string
  headers: Record<string, string>
  body: unknown
  /** Writes SSE text to the response body. */
  push(text: string): void
  /** Ends the body cleanly. */
  end(): void
  /** Breaks the body with an error. */
  fail(): void
  /** True once the client cancelled the body or aborted the request. */
  readonly released: boolean
}

/**
 * A fetch that answers from a script and lets the test write each response body. Counts
 * the bodies still open, so tests can prove the client released every one.
 */
export function createFakeFetch() {
  const requests: FakeRequest[] = []
  const script: Reply[] = []
  let open = 0
  const fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const headers = Object.fromEntries(new Headers(init.headers).entries())
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      open--
    }
    const request: FakeRequest = {
      url: String(input),
      method: init.method ?? 'GET',
      headers,
      body: init.body,
      push: (text) => controller?.enqueue(encoder.encode(text)),
      end: () => {
        controller?.close()
        release()
      },
      fail: () => {
        controller?.error(new TypeError('socket hang up'))
        release()
      },
      get released() {
        return released
      },
    }
    requests.push(request)
    open++
    const reply = script.shift() ?? { kind: 'stream' }
    const signal = init.signal
    if (signal?.aborted) {
      release()
      throw new DOMException('aborted', 'AbortError')
    }
    if (reply.kind === 'network') {
      release()
      throw new TypeError('fetch failed')
    }
    if (reply.kind === 'hang') {
      return new Promise((_, reject) => {
        signal?.addEventListener('abort', () => {
          release()
          reject(new DOMException('aborted', 'AbortError'))
        })
      })
    }
    if (reply.kind === 'status') {
      release()
      return new Response(reply.status === 204 ? null : (reply.body ?? '{}'), {
        status: reply.status,
        headers: reply.headers ?? { 'content-type': 'application/json' },
      })
    }
    if (reply.kind === 'json') {
      release()
      return new Response(JSON.stringify(reply.body), { headers: { 'content-type': 'application/json' } })
    }
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c
      },
      cancel() {
        release()
      },
    })
    return new Response(body, { headers: { 'content-type': reply.contentType ?? 'text/event-stream' } })
  }
  return {
    fetch: fetch as typeof globalThis.fetch,
    requests,
    /** Queues replies for the next requests (a stream by default). */
    reply(...replies: Reply[]) {
      script.push(...replies)
    },
    /** The latest request. */
    get last(): FakeRequest {
      const last = requests.at(-1)
      if (!last) throw new Error('no request yet')
      return last
    },
    /** Requests whose body the client has not released. */
    get open() {
      return open
    },
  }
}

/** A stream handle that also shows the run state a {@link createRunStore} folded from it. */
export type StreamWithState<C extends Catalog = DefaultCatalog> = StreamHandle<C> & {
  /** The run state folded from every event delivered since the handle was started. */
  readonly state: RunState
}

/**
 * Starts a handle the way an app renders a run: a `createRunStore` with one no-op
 * subscriber, which keeps the handle connected, so tests read the run state as
 * `stream.state`.
 */
export function started<C extends Catalog>(handle: StreamHandle<C>): StreamWithState<C> {
  const store = createRunStore(handle)
  store.subscribe(() => {})
  // The handle's getters and methods close over its own variables, so an object that
  // inherits from it reads and acts through to it.
  return Object.create(handle, { state: { get: store.getState } }) as StreamWithState<C>
}

/**
 * Sets up each test of a suite with fake timers and a fake fetch, and gives it handles on
 * that fetch (fetch transport, errors swallowed) that are closed after the test.
 *
 * @param defaults - options every handle of the suite gets, under the test's own
 * @returns the current test's fake server, and a way to open handles on it
 */
export function fakeFetchSuite(defaults: ConnectOptions<DefaultCatalog> = {}) {
  let server = createFakeFetch()
  const handles: StreamHandle[] = []
  beforeEach(() => {
    vi.useFakeTimers()
    server = createFakeFetch()
  })
  afterEach(() => {
    for (const handle of handles.splice(0)) handle.close()
    vi.useRealTimers()
  })
  return {
    /** The current test's fake server. */
    get server() {
      return server
    },
    /** A handle on the fake server, not yet watched. */
    connect(options: ConnectOptions<DefaultCatalog> = {}): StreamHandle {
      const handle = connect('https://api.test/jobs/1/events', {
        transport: fetchTransport,
        fetch: server.fetch,
        onError: () => {},
        ...defaults,
        ...options,
      })
      handles.push(handle)
      return handle
    },
  }
}
