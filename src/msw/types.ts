import type { Catalog, DefaultCatalog, EventInput, EventOf, EventType, Framing } from '../core/index.js'

/** What a script learns about the request it answers. */
export interface StreamInfo {
  /**
   * The intercepted request (method, URL, headers, `signal`). Its body has been read for
   * {@link StreamInfo.body}; read `request.clone()` for the raw bytes.
   */
  readonly request: Request
  /** The path parameters msw matched: `{ id: 'job-7' }` for `/api/jobs/:id/events`. */
  readonly params: Readonly<Record<string, string | readonly string[] | undefined>>
  /**
   * The request body: the parsed value when the request says `application/json` (its text
   * when that text is not JSON), the text for any other type, undefined without a body.
   */
  readonly body: unknown
  /**
   * The cursor the request resumes after, read as the hub reads it: the `Last-Event-ID`
   * header (fetch), else the `lastEventId` query parameter (EventSource, which cannot set
   * headers); null on a fresh connection.
   */
  readonly lastEventId: string | null
  /** Which request to this handler this is: 1 for the first, counted until `clear()`. */
  readonly attempt: number
  /**
   * How frames name their event: `data-only` when the request asks for it with
   * `?framing=data-only` (taskwire's EventSource transport does), `named` otherwise.
   */
  readonly framing: Framing
  /** The stream the events' envelopes name (see {@link SseHandlerOptions.stream}). */
  readonly stream: string
}

/** Options of {@link StreamController.send}. */
export interface SendOptions {
  /**
   * The event's id. A number is a sequence number in the handler's epoch (`5` is sent as
   * `"1-5"` with the default epoch); a string is sent as it is. Ids assigned afterwards
   * count on from the largest sequence number used, so a script can leave a gap.
   * @defaultValue the handler's next id
   */
  id?: string | number | undefined
}

/** What {@link StreamController.respond} answers besides the status. */
export interface RespondInit {
  /**
   * Response headers, such as `Retry-After` with a 503 or `WWW-Authenticate` with a 401.
   * @defaultValue none
   */
  headers?: Record<string, string> | undefined
  /**
   * The response body.
   * @defaultValue none
   */
  body?: string | undefined
}

/**
 * What a script drives its connection with. Every method returns a promise, and the calls
 * run in the order they were made whether or not the script awaits them. A frame's promise
 * resolves once the client has taken it (in a browser: once msw's worker has, on its way to
 * the page), so a script never runs ahead of its reader.
 *
 * The response starts (status 200, `text/event-stream`) with the first frame, `open()`,
 * `drop()`, `close()` or the end of the script, whichever comes first; until then the script
 * may still `respond()` with another status. Once the client has gone (closed its handle,
 * aborted the request), every call resolves at once and does nothing; `signal` says so.
 */
export interface StreamController<C extends Catalog = DefaultCatalog> {
  /**
   * Sends one event of the catalog, framed byte for byte as the hub frames it: `id:`,
   * `event:` (unless the request asked for data-only framing) and the envelope
   * `{ type, stream, id, ts, data }` as JSON in `data:`.
   *
   * @param type - the event type
   * @param data - the payload, checked against the catalog's schema
   * @param options - an explicit id
   * @returns a promise that resolves once the client has taken the frame
   * @throws {@link taskwire!TaskwireValidationError} (as a rejection) when `data` does not
   *   fit the schema or the type is not in the catalog: send a malformed event with `raw()`
   */
  send<T extends EventType<C>>(type: T, data: EventInput<C, T>, options?: SendOptions): Promise<void>
  /**
   * Sends text or bytes exactly as given: a malformed frame, half a frame, a frame without
   * its blank line, bytes that are not UTF-8.
   *
   * @param chunk - what to write
   * @returns a promise that resolves once the client has taken it
   */
  raw(chunk: string | Uint8Array): Promise<void>
  /**
   * Sends a comment line, which readers ignore and the client's watchdog counts as life (a
   * heartbeat).
   *
   * @param text - the comment
   * @returns a promise that resolves once the client has taken it
   */
  comment(text?: string): Promise<void>
  /**
   * Sends a `retry:` field: the client waits at least this long before reconnecting.
   *
   * @param ms - the reconnection delay in milliseconds
   * @returns a promise that resolves once the client has taken it
   */
  retry(ms: number): Promise<void>
  /**
   * Starts the 200 response without a frame, so the client is connected while the script
   * waits (to test its silence watchdog, say).
   *
   * @returns a promise that resolves once the response has started
   */
  open(): Promise<void>
  /**
   * Waits. The timer is the global `setTimeout` at the time of the call, so vitest's fake
   * timers drive it; it ends early when the client goes away.
   *
   * @param ms - how long, in milliseconds
   * @returns a promise that resolves when the time has passed
   */
  wait(ms: number): Promise<void>
  /**
   * Cuts the connection as a network failure would, once the client has taken everything
   * sent before: the client sees its read fail (fetch) or an `error` (EventSource) and
   * reconnects. Before the response has started, the request fails with a network error. In
   * a browser, behind msw's service worker, the cut waits a further 20 ms of real time, so
   * that the frames on their way from the worker reach the page first.
   *
   * @returns a promise that resolves once the connection is cut
   */
  drop(): Promise<void>
  /**
   * Ends the response cleanly, once the client has taken everything sent before. The client
   * reconnects unless an event it received ended the stream.
   *
   * @returns a promise that resolves once the response has ended
   */
  close(): Promise<void>
  /**
   * Answers with a status instead of a stream: 401 to test a token refresh, 503 with
   * `Retry-After`, 204 to say the stream is over, 500 ...
   *
   * @param status - the HTTP status
   * @param init - headers and a body
   * @returns a promise that resolves once the answer is given
   * @throws {@link taskwire!TaskwireError} `stream-closed` (as a rejection) once the 200 has
   *   started: a status cannot follow a frame
   */
  respond(status: number, init?: RespondInit): Promise<void>
  /** Aborted when the client has gone away: a looping script can stop. */
  readonly signal: AbortSignal
}

/**
 * A script: what the mocked server does with one request, given what it asked for and a
 * controller. It runs once per request (per attempt of the client), so it decides by
 * `info.attempt` or `info.lastEventId` what each attempt gets. When it returns, the response
 * stays open, as a live server's would, until it calls `close()` or `drop()` or the client
 * goes away.
 *
 * @param info - the request, its body, cursor and attempt number
 * @param controller - sends frames, waits, drops, closes or answers a status
 */
export type StreamScript<C extends Catalog = DefaultCatalog> = (
  info: StreamInfo,
  controller: StreamController<C>,
) => void | Promise<void>

/** An event of the catalog `C` as a preset takes it: a type and its payload, no id. */
export type ScriptEvent<C extends Catalog = DefaultCatalog> = {
  [K in EventType<C>]: {
    /** The event type. */
    readonly type: K
    /** The payload, checked against the catalog's schema when sent. */
    readonly data: EventInput<C, K>
  }
}[EventType<C>]

/**
 * How a connection ended: `closed` or `dropped` by the script, `responded` with a status
 * other than a stream, `client-closed` when the client went away first, `failed` when the
 * script threw.
 */
export type ConnectionEnd = 'closed' | 'dropped' | 'responded' | 'client-closed' | 'failed'

/** One request a handler served, as its assertions read it. */
export interface StreamConnection<C extends Catalog = DefaultCatalog> {
  /** Which request to the handler it was, from 1. */
  readonly attempt: number
  /** The request. */
  readonly request: Request
  /** The cursor it carried (see {@link StreamInfo.lastEventId}). */
  readonly lastEventId: string | null
  /**
   * The status answered: 200 once the stream started, the status given to `respond()`, 0
   * when dropped before it started (a network error); null while the script decides.
   */
  readonly status: number | null
  /** The events the script sent on it, in order, as their envelopes. */
  readonly events: readonly EventOf<C>[]
  /** How it ended; null while it is open or undecided. */
  readonly end: ConnectionEnd | null
}

/** Options of {@link sseHandler}. */
export interface SseHandlerOptions<C extends Catalog = DefaultCatalog> {
  /**
   * The catalog events are typed and validated against; `sseHandler.for(catalog)` sets it
   * for every handler it makes.
   * @defaultValue the default catalog
   */
  catalog?: C | undefined
  /**
   * The first part of the ids the handler assigns, `<epoch>-<seq>` as the hub's memory
   * broker writes them. A fixed epoch keeps ids the same from run to run, so tests can
   * assert them; another epoch stands for a restarted server.
   * @defaultValue `1`
   */
  epoch?: string | number | undefined
  /**
   * The stream the envelopes name, or a function of the request that picks it.
   * @defaultValue the path parameter `stream` or `id` when the path has one, else the path
   */
  stream?: string | ((info: Omit<StreamInfo, 'stream'>) => string) | undefined
  /**
   * Receives what a script throws. The connection then fails: a 500 before the stream
   * started, a drop after.
   * @defaultValue logs with `console.error`
   */
  onError?: ((error: unknown) => void) | undefined
}
