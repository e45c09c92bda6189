import {
  type Catalog,
  type DefaultCatalog,
  type EventMessage,
  TaskwireError,
  type TaskwireValidationError,
  terminalEventTypes,
} from '../core/index.js'
import type { Transport } from './transport.js'
import { fetchTransport } from './transports/fetch.js'

/** The headers of a request: a plain object or a `Headers`. */
export type HeadersValue = Record<string, string> | Headers

/** The `message` event an `EventSource` dispatches; only the fields taskwire reads. */
export interface EventSourceMessageEvent {
  /** The event's data. */
  readonly data: unknown
  /** The event name (`message` for data-only frames). */
  readonly type: string
  /** The last event id the source has seen. */
  readonly lastEventId?: string
}

/** The part of an `EventSource` taskwire uses; the browser's and the `eventsource` package's both fit. */
export interface EventSourceLike {
  /** 0 connecting, 1 open, 2 closed. */
  readonly readyState: number
  /** Closes the connection for good. */
  close(): void
  /**
   * Adds a listener.
   *
   * @param type - the event name
   * @param listener - the handler
   */
  addEventListener(type: string, listener: (event: EventSourceMessageEvent) => void): void
  /**
   * Removes a listener.
   *
   * @param type - the event name
   * @param listener - the handler given to `addEventListener`
   */
  removeEventListener(type: string, listener: (event: EventSourceMessageEvent) => void): void
}

/** An `EventSource` constructor: the browser global or the `eventsource` npm package. */
export type EventSourceConstructor = new (
  url: string,
  init?: { withCredentials?: boolean },
) => EventSourceLike

/**
 * An event handler property. Declared through a method so its parameter is checked
 * bivariantly: the browser's and the `ws` package's handlers take richer event types than
 * the fields taskwire reads, and must still fit.
 */
type HandlerProperty<E> = { handle(event: E): void }['handle']

/** The part of a `WebSocket` taskwire uses; the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number
  /**
   * Sends a text message.
   *
   * @param data - the text
   */
  send(data: string): void
  /**
   * Closes the socket.
   *
   * @param code - the close code
   * @param reason - the close reason
   */
  close(code?: number, reason?: string): void
  /** Called when the socket opens. */
  onopen: HandlerProperty<unknown> | null
  /** Called for each message. */
  onmessage: HandlerProperty<{ data: unknown }> | null
  /** Called when the socket closes, with its code and reason. */
  onclose: HandlerProperty<{ code: number; reason: string }> | null
  /** Called on an error; a close always follows. */
  onerror: HandlerProperty<unknown> | null
}

/** A `WebSocket` constructor: the global or the `ws` package's. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Whether cookies go with a request, as `fetch` names it. */
export type Credentials = 'omit' | 'same-origin' | 'include'

/**
 * A request body `fetch` can send again on every attempt: a string, `URLSearchParams`,
 * `FormData`, `Blob` or a buffer (not a stream, which can be read once).
 */
export type RequestBody = string | ArrayBuffer | ArrayBufferView | object

/** How long to wait between reconnection attempts. */
export interface BackoffOptions {
  /**
   * The first jitter window.
   * @defaultValue `500`
   */
  initialMs?: number | undefined
  /**
   * How much the window grows after each failed attempt.
   * @defaultValue `2`
   */
  factor?: number | undefined
  /**
   * The largest window.
   * @defaultValue `30000`
   */
  maxMs?: number | undefined
  /**
   * A connection that stayed open this long counts as healthy, so the next failure starts
   * again from the first window (one event received counts as healthy too).
   * @defaultValue `10000`
   */
  resetAfterMs?: number | undefined
}

/**
 * How strictly received events are checked against `catalog`: `strict` validates every
 * event and reports unknown types as invalid; `passthrough` validates known types and
 * delivers unknown ones unchecked; `false` checks only the envelope's shape.
 */
export type ValidateMode = 'strict' | 'passthrough' | false

/** Options of `connect()`. Every field is optional. */
export interface ConnectOptions<C extends Catalog = DefaultCatalog> {
  /**
   * Validates received events against this catalog's schemas, through their Standard
   * Schema interface. Without one, only the envelope's shape is checked; the catalog's
   * types still flow from `connect<typeof catalog>(url)`, so the validator's code reaches
   * the bundle only when you pass a catalog here.
   * @defaultValue none
   */
  catalog?: C | undefined
  /**
   * How strictly events are checked against `catalog`.
   * @defaultValue `'strict'` with a catalog, `false` without
   */
  validate?: ValidateMode | undefined
  /**
   * How to reach the stream: `fetchTransport`, `eventSourceTransport`,
   * `webSocketTransport`, `pollingTransport` or `autoTransport`, imported from
   * `taskwire/client`. Only the transports you import reach your bundle.
   * @defaultValue `fetchTransport`: any method, headers and body, wherever `fetch` streams
   *   (browsers, Node 20, Deno, Bun, workers)
   */
  transport?: Transport | undefined
  /**
   * The HTTP method (`fetch` transport; `autoTransport` picks `fetch` for anything but GET).
   * @defaultValue `'GET'`
   */
  method?: string | undefined
  /**
   * Request headers, or a function called before every attempt, so a reconnect can send a
   * refreshed token (`fetch` and `polling` transports). Names are read case-insensitively:
   * an `Accept` given here replaces the transport's default.
   * @defaultValue none
   */
  headers?: HeadersValue | (() => HeadersValue | Promise<HeadersValue>) | undefined
  /**
   * The request body (`fetch` transport), sent again on every attempt.
   * @defaultValue none
   */
  body?: RequestBody | undefined
  /**
   * Whether cookies are sent; `include` also sets `withCredentials` on an `EventSource`.
   * @defaultValue `'same-origin'`
   */
  credentials?: Credentials | undefined
  /**
   * Aborting it closes the stream, like `close()`.
   * @defaultValue none
   */
  signal?: AbortSignal | undefined
  /**
   * The id to resume after on the first attempt (say, one kept in `sessionStorage`).
   * @defaultValue `null`
   */
  lastEventId?: string | null | undefined
  /**
   * Event types after which the client closes instead of reconnecting; `false` never closes
   * on an event.
   * @defaultValue the catalog's `terminal` types when a `catalog` is given, else `run.completed`, `run.failed`, `run.cancelled`
   */
  closeOn?: readonly string[] | false | undefined
  /**
   * The reconnection schedule, or `false` to close on the first drop (with its error).
   * @defaultValue `{ initialMs: 500, factor: 2, maxMs: 30000, resetAfterMs: 10000 }`
   */
  backoff?: BackoffOptions | false | undefined
  /**
   * How long an attempt may wait for the server to accept the stream (response headers,
   * the WebSocket's first message, the first poll) before it counts as failed.
   * @defaultValue `15000`
   */
  openTimeoutMs?: number | false | undefined
  /**
   * Silence longer than this (no data, no heartbeat comment) on an open stream counts as a
   * dead connection; the default is three 15-second server heartbeats. `false` turns the
   * watchdog off. The `eventsource` transport cannot see comments, so it has no watchdog.
   * @defaultValue `45000`
   */
  heartbeatTimeoutMs?: number | false | undefined
  /**
   * How long the connection stays up after the last subscriber leaves, so a subscriber that
   * comes right back (React StrictMode, a route change) reuses it.
   * @defaultValue `250`
   */
  lingerMs?: number | undefined
  /**
   * Time between two requests of the `polling` transport.
   * @defaultValue `1000`
   */
  pollIntervalMs?: number | undefined
  /**
   * On a 401, call `headers` again and retry once before giving up (for expired tokens).
   * @defaultValue `false`
   */
  retryOn401?: boolean | undefined
  /**
   * The most characters one SSE event may take on the wire (`fetch` and `websocket`
   * transports). A larger one ends the stream with an `event-too-large` error instead of
   * growing memory without bound. `false` for no bound.
   * @defaultValue `4194304` (4 Mi characters)
   */
  maxEventChars?: number | false | undefined
  /**
   * Events an async iterator holds for a consumer that has not caught up; past it, the
   * iterator throws a `slow-consumer` error (the handle itself keeps running).
   * @defaultValue `1000`
   */
  iteratorBufferSize?: number | undefined
  /**
   * The `fetch` used by the `fetch` and `polling` transports.
   * @defaultValue `globalThis.fetch`
   */
  fetch?: typeof fetch | undefined
  /**
   * The `EventSource` constructor; in Node pass the `eventsource` package's.
   * @defaultValue `globalThis.EventSource`
   */
  EventSource?: EventSourceConstructor | undefined
  /**
   * The `WebSocket` constructor; in Node 20 pass the `ws` package's.
   * @defaultValue `globalThis.WebSocket`
   */
  WebSocket?: WebSocketConstructor | undefined
  /**
   * A source of numbers in `[0, 1)` for the backoff jitter.
   * @defaultValue `Math.random`
   */
  random?: (() => number) | undefined
  /**
   * The transport to switch to when a second response arrives buffered (see
   * `stream-buffered` under `onError`): for example `pollingTransport`, when the same URL
   * also answers polls. The switch lasts for the handle's life.
   * @defaultValue none: the handle keeps its transport and only reports
   */
  bufferedFallback?: Transport | undefined
  /**
   * Called with an event that failed validation; the event is skipped.
   * @defaultValue reports to `onError`
   */
  onInvalid?: ((error: TaskwireValidationError, message: EventMessage) => void) | undefined
  /**
   * Called when a handler or listener throws, when the connection fails for good, with
   * invalid events when there is no `onInvalid`, and with a `stream-buffered` error when a
   * response that stayed silent for a second after its headers then brought all its events
   * at once as it ended: a proxy or a compression layer is holding the stream. Failures
   * that are retried are not errors: they show as `status: 'reconnecting'` and `error` on
   * the snapshot.
   * @defaultValue `console.error`
   */
  onError?: ((error: unknown) => void) | undefined
}

/** {@link ConnectOptions} with every default applied and checked. */
export interface ResolvedConnectOptions {
  /** The URL, as given. */
  url: string
  /** The catalog to validate with, if any. */
  catalog: Catalog | undefined
  /** How strictly to validate. */
  validate: ValidateMode
  /** The transport. */
  transport: Transport
  /** The HTTP method, upper case. */
  method: string
  /** The headers of one attempt. */
  headers: () => Promise<Record<string, string>>
  /** Whether headers were given (EventSource cannot send them). */
  hasHeaders: boolean
  /** The request body. */
  body: RequestBody | undefined
  /** Whether cookies are sent. */
  credentials: Credentials
  /** Closes the stream when aborted. */
  signal: AbortSignal | undefined
  /** The first cursor. */
  lastEventId: string | null
  /** The types that end the stream. */
  closeOn: ReadonlySet<string>
  /** The reconnection schedule, or false. */
  backoff: { [K in keyof BackoffOptions]-?: number } | false
  /** The first-response timeout. */
  openTimeoutMs: number | false
  /** The silence watchdog. */
  heartbeatTimeoutMs: number | false
  /** The linger after the last subscriber. */
  lingerMs: number
  /** The polling interval. */
  pollIntervalMs: number
  /** Whether a 401 is retried once. */
  retryOn401: boolean
  /** The per-event bound. */
  maxEventChars: number | false
  /** The iterator bound. */
  iteratorBufferSize: number
  /** The fetch to use. */
  fetch: typeof fetch | undefined
  /** The EventSource constructor. */
  EventSource: EventSourceConstructor | undefined
  /** The WebSocket constructor. */
  WebSocket: WebSocketConstructor | undefined
  /** The jitter source. */
  random: () => number
  /** The transport after a second buffered response. */
  bufferedFallback: Transport | undefined
  /** Where invalid events go. */
  onInvalid: ((error: TaskwireValidationError, message: EventMessage) => void) | undefined
  /** Where errors go. */
  onError: (error: unknown) => void
}

/**
 * Applies the defaults to connect options and checks them, so a setup mistake fails at once
 * rather than in a retry loop.
 *
 * @param url - the stream's URL
 * @param options - what the caller passed
 * @returns every option, resolved
 * @throws {@link taskwire!TaskwireError} `invalid-option` for a relative URL where there is no
 *   page to resolve it against, an unknown transport, a transport that lacks what it needs,
 *   or a number out of range
 */
export function resolveConnectOptions(
  url: string | URL,
  options: ConnectOptions<Catalog>,
): ResolvedConnectOptions {
  const headers = options.headers
  const global = globalThis as {
    fetch?: typeof fetch
    EventSource?: EventSourceConstructor
    WebSocket?: WebSocketConstructor
    location?: { href: string }
  }
  const backoff = options.backoff
  const closeOn = options.closeOn
  const o: ResolvedConnectOptions = {
    url: String(url),
    catalog: options.catalog,
    validate: options.validate ?? (options.catalog ? 'strict' : false),
    transport: options.transport ?? fetchTransport,
    method: (options.method ?? 'GET').toUpperCase(),
    // Through Headers: names in lower case, so a caller's `Accept` replaces the default
    // rather than joining it, and the same for every transport.
    headers: async () =>
      Object.fromEntries(new Headers(typeof headers === 'function' ? await headers() : headers)),
    hasHeaders: headers !== undefined,
    body: options.body,
    credentials: options.credentials ?? 'same-origin',
    signal: options.signal,
    lastEventId: options.lastEventId ?? null,
    closeOn: new Set(closeOn === false ? [] : (closeOn ?? options.catalog?.terminal ?? terminalEventTypes)),
    backoff:
      backoff === false
        ? false
        : {
            initialMs: backoff?.initialMs ?? 500,
            factor: backoff?.factor ?? 2,
            maxMs: backoff?.maxMs ?? 30_000,
            resetAfterMs: backoff?.resetAfterMs ?? 10_000,
          },
    openTimeoutMs: options.openTimeoutMs ?? 15_000,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 45_000,
    lingerMs: options.lingerMs ?? 250,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    retryOn401: options.retryOn401 ?? false,
    maxEventChars: options.maxEventChars ?? 4 * 1024 * 1024,
    iteratorBufferSize: options.iteratorBufferSize ?? 1000,
    fetch: options.fetch ?? (global.fetch ? global.fetch.bind(globalThis) : undefined),
    EventSource: options.EventSource ?? global.EventSource,
    WebSocket: options.WebSocket ?? global.WebSocket,
    random: options.random ?? Math.random,
    bufferedFallback: options.bufferedFallback,
    onInvalid: options.onInvalid,
    onError: options.onError ?? ((error) => console.error('[taskwire]', error)),
  }
  const need = (ok: unknown, what: string): void => {
    if (!ok) throw new TaskwireError('invalid-option', what)
  }
  need(
    /^[a-z][a-z\d+.-]*:/i.test(o.url) || global.location,
    `${o.url} is relative and there is no page to resolve it against; pass an absolute URL.`,
  )
  for (const [name, transport] of [
    ['transport', o.transport],
    ['bufferedFallback', o.bufferedFallback ?? o.transport],
  ] as const) {
    const given = transport as Partial<Transport> | undefined
    need(
      typeof given?.open === 'function' && typeof given.check === 'function',
      `${name} must be a taskwire/client transport (fetchTransport ...), got ${String(given)}.`,
    )
    const missing = transport.check(o)
    need(missing === undefined, missing ?? '')
  }
  need(
    o.validate === false || (o.catalog && (o.validate === 'strict' || o.validate === 'passthrough')),
    'validate takes strict or passthrough, with a catalog.',
  )
  if (o.backoff) {
    const { initialMs, factor, maxMs, resetAfterMs } = o.backoff
    need(
      initialMs > 0 && factor >= 1 && maxMs >= initialMs && resetAfterMs >= 0,
      'backoff takes initialMs > 0, factor >= 1, maxMs >= initialMs, resetAfterMs >= 0.',
    )
  }
  for (const [name, value] of [
    ['openTimeoutMs', o.openTimeoutMs],
    ['heartbeatTimeoutMs', o.heartbeatTimeoutMs],
    ['maxEventChars', o.maxEventChars],
  ] as const) {
    need(value === false || value > 0, `${name} must be > 0 or false.`)
  }
  need(
    o.lingerMs >= 0 && o.pollIntervalMs >= 0 && o.iteratorBufferSize >= 1,
    'lingerMs, pollIntervalMs must be >= 0, iteratorBufferSize >= 1.',
  )
  return o
}
