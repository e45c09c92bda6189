import type { Framing, TaskwireHttpError } from '../core/index.js'
import { isTaskwireError } from '../core/index.js'
import type { Hub, Subscription } from './types.js'

/**
 * What an `authorize` hook decides: `true` admits the request, `false` answers 403, and an
 * object answers its status (401 to ask for credentials, 403 to refuse them, 404 for a stream
 * the caller may not know exists) with an optional message and headers such as
 * `WWW-Authenticate`.
 */
export type AuthorizeDecision =
  | boolean
  | {
      /** The status to answer. */
      status: 401 | 403 | 404
      /** What the client is told in the JSON body. */
      message?: string | undefined
      /** Extra response headers (`WWW-Authenticate` for a 401). */
      headers?: Readonly<Record<string, string>> | undefined
    }

/**
 * Decides whether a request may read a stream, before any byte of the stream is written. It
 * may also throw a {@link taskwire!TaskwireHttpError} with status 401, 403 or 404; any other throw is
 * answered with 500 and reported through `onError`.
 *
 * @param request - the request, as the adapter received it
 * @param stream - the stream asked for
 * @returns the decision, or a promise of it
 */
export type Authorize<R> = (request: R, stream: string) => AuthorizeDecision | Promise<AuthorizeDecision>

/** The options every HTTP adapter (`serveNode`, `serveWeb`, `servePoll`) shares. */
export interface ServeOptions<R> {
  /** The stream to serve (a job, run, workflow or execution id). */
  stream: string
  /**
   * Checked before the hub admits the request; see {@link AuthorizeDecision}.
   * @defaultValue admits every request
   */
  authorize?: Authorize<R> | undefined
  /**
   * Extra headers on every answer (CORS headers a framework would otherwise have sent).
   * @defaultValue no extra headers
   */
  headers?: Readonly<Record<string, string>> | undefined
  /**
   * Receives errors the client only sees as a 500 (an `authorize` hook or a broker that
   * threw), so they are never lost.
   * @defaultValue logs the error with `console.error`
   */
  onError?: ((error: unknown) => void) | undefined
}

/** The options of `serveNode` and `serveWeb`. */
export interface ServeStreamOptions<R> extends ServeOptions<R> {
  /**
   * How frames name their event: `named` (`event: <type>`) or `data-only`.
   * @defaultValue the hub's `framing`
   */
  framing?: Framing | undefined
}

/** What the adapters default to; see each field of {@link ServeStreamOptions}. */
export const DEFAULT_SERVE_OPTIONS = Object.freeze({
  /** Admits every request. */
  authorize: (): AuthorizeDecision => true,
  /** No extra headers. */
  headers: Object.freeze({}) as Readonly<Record<string, string>>,
  /** Logs the error with `console.error`. */
  onError: (error: unknown): void => {
    console.error(error)
  },
})

/** {@link ServeStreamOptions} with every default applied. */
export interface ResolvedServeOptions<R> {
  /** The stream to serve. */
  stream: string
  /** The hook, or one that admits everyone. */
  authorize: Authorize<R>
  /** Extra headers, possibly none. */
  headers: Readonly<Record<string, string>>
  /** Where unexpected errors go. */
  onError: (error: unknown) => void
  /** The framing asked for; undefined leaves the hub's. */
  framing: Framing | undefined
}

/**
 * Applies {@link DEFAULT_SERVE_OPTIONS}.
 *
 * @param options - what the caller passed
 * @returns every option resolved
 */
export function resolveServeOptions<R>(options: ServeStreamOptions<R>): ResolvedServeOptions<R> {
  return {
    stream: options.stream,
    authorize: options.authorize ?? DEFAULT_SERVE_OPTIONS.authorize,
    headers: options.headers ?? DEFAULT_SERVE_OPTIONS.headers,
    onError: options.onError ?? DEFAULT_SERVE_OPTIONS.onError,
    framing: options.framing,
  }
}

/** A complete non-stream answer: a status, headers and a JSON body (or none). */
export interface PlainAnswer {
  /** The HTTP status. */
  status: number
  /** The response headers. */
  headers: Record<string, string>
  /** The JSON body, or null for none (204). */
  body: string | null
}

/** What an adapter does with a request: stream a subscription or send a plain answer. */
export type Admission = { kind: 'stream'; subscription: Subscription } | ({ kind: 'answer' } & PlainAnswer)

/**
 * Runs `authorize`, then admits the request to the hub, and turns every refusal into the
 * answer clients expect: 401/403/404 from `authorize`, 503 with `Retry-After` at a limit,
 * 204 for an ended stream (which stops an `EventSource` for good, WHATWG HTML §9.2.3), and
 * 500 for anything unexpected (reported through `onError`).
 *
 * @param hub - the hub
 * @param request - the request, for `authorize`
 * @param lastEventId - the client's cursor
 * @param options - the resolved options
 * @returns the subscription to stream, or the answer to send
 */
export async function admitSubscriber<R>(
  hub: Pick<Hub, 'subscribe'>,
  request: R,
  lastEventId: string | null,
  options: ResolvedServeOptions<R>,
): Promise<Admission> {
  const denied = await authorizeRequest(request, options)
  if (denied) return denied
  try {
    const subscription = await hub.subscribe(options.stream, { lastEventId, framing: options.framing })
    if (subscription === null)
      return { kind: 'answer', status: 204, headers: { ...options.headers }, body: null }
    return { kind: 'stream', subscription }
  } catch (error) {
    if (isHttpError(error)) return { kind: 'answer', ...httpErrorAnswer(error, options.headers) }
    options.onError(error)
    return { kind: 'answer', ...internalErrorAnswer(options.headers) }
  }
}

/**
 * Runs the `authorize` hook.
 *
 * @param request - the request
 * @param options - the resolved options
 * @returns the refusal to send, or undefined when the request is admitted
 */
export async function authorizeRequest<R>(
  request: R,
  options: ResolvedServeOptions<R>,
): Promise<({ kind: 'answer' } & PlainAnswer) | undefined> {
  let decision: AuthorizeDecision
  try {
    decision = await options.authorize(request, options.stream)
  } catch (error) {
    if (isHttpError(error) && (error.status === 401 || error.status === 403 || error.status === 404)) {
      decision = { status: error.status, message: error.message }
    } else {
      options.onError(error)
      return { kind: 'answer', ...internalErrorAnswer(options.headers) }
    }
  }
  if (decision === true) return undefined
  const refusal = decision === false ? { status: 403 as const } : decision
  return {
    kind: 'answer',
    ...jsonAnswer(
      refusal.status,
      REFUSALS[refusal.status].code,
      refusal.message ?? REFUSALS[refusal.status].message,
      { ...options.headers, ...refusal.headers },
    ),
  }
}

const REFUSALS = {
  401: { code: 'unauthorized', message: 'Authentication is required to read this stream; send credentials.' },
  403: { code: 'forbidden', message: 'These credentials may not read this stream.' },
  404: { code: 'not-found', message: 'No such stream.' },
} as const

/**
 * The JSON body of every error answer: `{ "error": { "code", "message", ... } }`.
 *
 * @param status - the HTTP status
 * @param code - a stable kebab-case code
 * @param message - what happened and what to do next
 * @param headers - headers to send with it
 * @param extra - more fields for the `error` object
 * @returns the answer
 */
export function jsonAnswer(
  status: number,
  code: string,
  message: string,
  headers: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, unknown>> = {},
): PlainAnswer {
  return {
    status,
    headers: { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
    body: JSON.stringify({ error: { code, message, ...extra } }),
  }
}

// Checked by brand and shape rather than `instanceof`, so a hub bundled with another copy of
// taskwire still gets its 503 answered as a 503.
function isHttpError(error: unknown): error is TaskwireHttpError {
  return isTaskwireError(error) && typeof (error as Partial<TaskwireHttpError>).status === 'number'
}

function httpErrorAnswer(error: TaskwireHttpError, headers: Readonly<Record<string, string>>): PlainAnswer {
  const extra: Record<string, unknown> = {}
  const withRetry: Record<string, string> = { ...headers }
  if (error.retryAfterMs !== undefined) {
    // Retry-After counts whole seconds (RFC 9110 §10.2.3); rounding up never invites a
    // client back before the hub said it could take it.
    withRetry['Retry-After'] = String(Math.max(0, Math.ceil(error.retryAfterMs / 1000)))
    extra.retryAfterMs = error.retryAfterMs
  }
  return jsonAnswer(error.status, error.code, error.message, withRetry, extra)
}

function internalErrorAnswer(headers: Readonly<Record<string, string>>): PlainAnswer {
  return jsonAnswer(500, 'internal', 'The server could not open the stream; try again later.', headers)
}
