import {
  type Catalog,
  type DefaultCatalog,
  defaultCatalog,
  type EventMessage,
  type TaskwireValidationError,
  terminalEventTypes,
} from '../core/index.js'
import type { BackoffOptions } from './backoff.js'

/** Which connection a client opens. `auto` picks `eventsource` for a plain GET where an `EventSource` constructor exists, `fetch` otherwise. */
export type TransportName = 'auto' | 'eventsource' | 'fetch' | 'websocket' | 'polling'

/** How strictly received events are checked against the catalog. */
export type ValidateMode = 'strict' | 'passthrough' | false

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

/** Options of `connect()`. Every field is optional; defaults are in {@link DEFAULT_CONNECT_OPTIONS}. */
export interface ConnectOptions<C extends Catalog = DefaultCatalog> {
  /**
   * The catalog received events are validated against; it also types `on()`.
   * @defaultValue `defaultCatalog`
   */
  catalog?: C | undefined
  /**
   * The connection to open.
   * @defaultValue `'auto'`
   */
  transport?: TransportName | undefined
  /**
   * The HTTP method (`fetch` transport; `auto` switches to `fetch` for anything but GET).
   * @defaultValue `'GET'`
   */
  method?: string | undefined
  /**
   * Request headers, or a function called before every attempt, so a reconnect can send a
   * refreshed token (`fetch` and `polling` transports).
   * @defaultValue none
   */
  headers?: HeadersValue | (() => HeadersValue | Promise<HeadersValue>) | undefined
  /**
   * The request body (`fetch` transport), sent again on every attempt, so it must be
   * replayable (a string, `URLSearchParams`, `FormData`, `Blob` or buffer, not a stream).
   * @defaultValue none
   */
  body?: BodyInit | undefined
  /**
   * Whether cookies are sent; `include` also sets `withCredentials` on an `EventSource`.
   * @defaultValue `'same-origin'`
   */
  credentials?: RequestCredentials | undefined
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
   * @defaultValue `terminalEventTypes` (`run.completed`, `run.failed`, `run.cancelled`)
   */
  closeOn?: readonly string[] | false | undefined
  /**
   * The reconnection schedule, or `false` to close on the first drop.
   * @defaultValue `{ initialMs: 500, factor: 2, maxMs: 30000, resetAfterMs: 10000 }`
   */
  backoff?: Partial<BackoffOptions> | false | undefined
  /**
   * Silence longer than this (no data, no heartbeat comment) counts as a dead connection;
   * the default is three 15-second server heartbeats. `false` turns the watchdog off. The
   * `eventsource` transport cannot see comments, so it runs without a watchdog.
   * @defaultValue `45000`
   */
  heartbeatTimeoutMs?: number | false | undefined
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
   * `strict` validates every event and reports unknown types as invalid; `passthrough`
   * validates known types and delivers unknown ones to `on('*')` unchecked; `false` trusts
   * the server and only parses JSON.
   * @defaultValue `'strict'`
   */
  validate?: ValidateMode | undefined
  /**
   * The most characters one SSE event may take on the wire (`fetch` and `websocket`
   * transports). A larger one ends the stream with an `event-too-large` error instead of
   * growing memory without bound; reconnecting would only receive it again. `false` for no
   * bound.
   * @defaultValue `4194304` (4 Mi characters, 16 times the hub's default `maxEventBytes`)
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
   * Called with an event that failed validation; the event is skipped.
   * @defaultValue reports to `onError`
   */
  onInvalid?: ((error: TaskwireValidationError, message: EventMessage) => void) | undefined
  /**
   * Called when a handler or listener throws, when the connection fails for good, and with
   * invalid events when there is no `onInvalid`. Failures that are retried are not errors:
   * they show as `status: 'reconnecting'` and `error` on the snapshot.
   * @defaultValue `console.error`
   */
  onError?: ((error: unknown) => void) | undefined
}

/** The options with every default applied. */
export interface ResolvedConnectOptions<C extends Catalog = Catalog> {
  catalog: C
  transport: TransportName
  method: string
  headers: () => Promise<Record<string, string>>
  hasHeaders: boolean
  body: BodyInit | undefined
  credentials: RequestCredentials
  signal: AbortSignal | undefined
  lastEventId: string | null
  closeOn: readonly string[]
  backoff: BackoffOptions | false
  heartbeatTimeoutMs: number | false
  pollIntervalMs: number
  retryOn401: boolean
  validate: ValidateMode
  maxEventChars: number | false
  iteratorBufferSize: number
  fetch: typeof fetch | undefined
  EventSource: EventSourceConstructor | undefined
  WebSocket: WebSocketConstructor | undefined
  random: () => number
  onInvalid: ((error: TaskwireValidationError, message: EventMessage) => void) | undefined
  onError: (error: unknown) => void
}

/** The defaults of {@link ConnectOptions}, in one place. */
export const DEFAULT_CONNECT_OPTIONS = Object.freeze({
  /** Opens EventSource for a plain GET where it exists, fetch otherwise. */
  transport: 'auto',
  /** GET, as an `EventSource` does. */
  method: 'GET',
  /** Cookies for the page's own origin only. */
  credentials: 'same-origin',
  /** No resume point: the server sends what it has from the start. */
  lastEventId: null,
  /** `run.completed`, `run.failed`, `run.cancelled`. */
  closeOn: terminalEventTypes,
  /** 500 ms doubling up to 30 s, reset after 10 s of healthy connection. */
  backoff: Object.freeze({
    /** The first window. */
    initialMs: 500,
    /** Growth per failed attempt. */
    factor: 2,
    /** The largest window. */
    maxMs: 30_000,
    /** Open this long counts as healthy. */
    resetAfterMs: 10_000,
  }),
  /** Three 15-second server heartbeats. */
  heartbeatTimeoutMs: 45_000,
  /** One poll a second. */
  pollIntervalMs: 1000,
  /** A 401 is final. */
  retryOn401: false,
  /** Every event validated; unknown types rejected. */
  validate: 'strict',
  /** Four mebi-characters per event. */
  maxEventChars: 4 * 1024 * 1024,
  /** Events an iterator may fall behind. */
  iteratorBufferSize: 1000,
} as const)

function reportToConsole(error: unknown): void {
  console.error('[taskwire]', error)
}

/**
 * Applies the defaults to connect options and normalizes headers into one async function.
 *
 * @param options - what the caller passed
 * @returns every option, resolved
 */
export function resolveConnectOptions<C extends Catalog>(
  options: ConnectOptions<C>,
): ResolvedConnectOptions<C> {
  const d = DEFAULT_CONNECT_OPTIONS
  const headers = options.headers
  const global = globalThis as {
    fetch?: typeof fetch
    EventSource?: EventSourceConstructor
    WebSocket?: WebSocketConstructor
  }
  return {
    catalog: options.catalog ?? (defaultCatalog as Catalog as C),
    transport: options.transport ?? d.transport,
    method: (options.method ?? d.method).toUpperCase(),
    headers: async () => toRecord(typeof headers === 'function' ? await headers() : headers),
    hasHeaders: headers !== undefined,
    body: options.body,
    credentials: options.credentials ?? d.credentials,
    signal: options.signal,
    lastEventId: options.lastEventId === undefined ? d.lastEventId : options.lastEventId,
    closeOn: options.closeOn === false ? [] : (options.closeOn ?? d.closeOn),
    backoff: options.backoff === false ? false : { ...d.backoff, ...definedOnly(options.backoff ?? {}) },
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? d.heartbeatTimeoutMs,
    pollIntervalMs: options.pollIntervalMs ?? d.pollIntervalMs,
    retryOn401: options.retryOn401 ?? d.retryOn401,
    validate: options.validate ?? d.validate,
    maxEventChars: options.maxEventChars ?? d.maxEventChars,
    iteratorBufferSize: options.iteratorBufferSize ?? d.iteratorBufferSize,
    fetch: options.fetch ?? (global.fetch ? global.fetch.bind(globalThis) : undefined),
    EventSource: options.EventSource ?? global.EventSource,
    WebSocket: options.WebSocket ?? global.WebSocket,
    random: options.random ?? Math.random,
    onInvalid: options.onInvalid,
    onError: options.onError ?? reportToConsole,
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

function toRecord(value: HeadersValue | undefined): Record<string, string> {
  if (value === undefined) return {}
  if (typeof Headers !== 'undefined' && value instanceof Headers) return Object.fromEntries(value.entries())
  return { ...(value as Record<string, string>) }
}
