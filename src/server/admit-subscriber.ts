import type { Framing, TaskwireHttpError, TaskwireValidationError, ValidationIssue } from '../core/index.js'
import { isTaskwireError } from '../core/index.js'
import { type AccessDecision, type Door, decideAccess, type HeaderReader, type Refusal } from './access.js'
import { queryOf, readLastEventId } from './last-event-id.js'
import type { Hub, Reservation, Subscription } from './types.js'

/**
 * What an adapter's own `authorize` hook decides: `true` admits the request, `false` answers
 * 403, and an object answers its status (401 to ask for credentials, 403 to refuse them, 404
 * for a stream the caller may not know exists) with an optional message and headers such as
 * `WWW-Authenticate`. The caller's key comes from the hub's `authorize` policy, not from here.
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
 * An adapter's own check of a request, run after the hub's `authorize` policy admitted it and
 * before any byte of the stream is written; both must admit. It may also throw a
 * {@link taskwire!TaskwireHttpError} with status 401, 403 or 404; any other throw is answered
 * with 500 and reported through `onError`.
 *
 * @param request - the request, as the adapter received it
 * @param stream - the stream asked for
 * @returns the decision, or a promise of it
 */
export type Authorize<R> = (request: R, stream: string) => AuthorizeDecision | Promise<AuthorizeDecision>

/** The options every HTTP adapter (`serveNode`, `serveWeb`, `servePoll`, `pollUpdates`) shares. */
export interface ServeOptions<R> {
  /** The stream to serve (a job, run, workflow or execution id). */
  stream: string
  /**
   * Checked after the hub's `authorize` policy admitted the request (both must admit); see
   * {@link AuthorizeDecision}. Prefer the hub's policy, which every door asks.
   * @defaultValue admits every request the hub's policy admits
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
   * How frames name their event: `named` (`event: <type>`) or `data-only`. When set, the
   * request's `framing` query parameter is ignored.
   * @defaultValue what the request's `framing` query parameter asks for (see
   *   {@link FRAMING_PARAM}), else the hub's `framing`
   */
  framing?: Framing | undefined
}

/**
 * The query parameter a stream request asks for its framing with: `?framing=data-only` or
 * `?framing=named`, honoured by `serveNode` and `serveWeb` unless their `framing` option is
 * set. An `EventSource` dispatches a named event only to listeners of that name, so a client
 * that must see types it does not know in advance asks for `data-only`.
 */
export const FRAMING_PARAM = 'framing'

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
  /** The framing set by the adapter; undefined leaves it to the request, then the hub. */
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

/**
 * A complete non-stream answer, ready for any framework to send:
 * `res.writeHead(answer.status, answer.headers).end(answer.body)` on node:http,
 * `res.status(answer.status).set(answer.headers).send(answer.body)` on Express.
 */
export interface PlainAnswer {
  /** The HTTP status. */
  status: number
  /** The response headers, `Content-Type` included when there is a body. */
  headers: Record<string, string>
  /** The body (JSON text), or null for none (204). */
  body: string | null
}

/** A refusal an adapter renders, with the invalid fields of a 400. */
export interface DoorRefusal extends Refusal {
  /** Each invalid field of a 400, as in `validationErrorBody`. */
  issues?: readonly ValidationIssue[] | undefined
}

/** Whether a request got through a door: admitted with the caller's key, or refused. */
export type DoorResult = { ok: true; key: string | undefined } | { ok: false; refusal: DoorRefusal }

/** What the hub said to a subscriber let through a door. */
export type Admission =
  | {
      /** Stream it. */
      kind: 'stream'
      /** The admitted subscription. */
      subscription: Subscription
    }
  | {
      /** The run has ended and nothing follows the cursor: HTTP 204, close 4204. */
      kind: 'ended'
    }
  | {
      /** Refused. */
      kind: 'refused'
      /** Why, to render. */
      refusal: DoorRefusal
    }

/** What a door asks about a request; `request` is given to both authorization hooks. */
export interface DoorRequest<R> {
  /** Which door. */
  door: Door
  /** The request as the framework gave it. */
  request: R
  /** Its headers. */
  headers: HeaderReader
}

/**
 * Lets a request through a door, or refuses it: the stream name is checked (400), then the
 * hub's `authorize` policy and then the adapter's own hook run (401/403/404 from either; both
 * must admit). A hook that throws anything but a 401/403/404 is reported through `onError`
 * and refused with a 500. Every adapter calls this before it reads or subscribes, so no door
 * can skip the hub's policy.
 *
 * @param hub - the hub whose policy decides
 * @param at - the door, the request and its headers
 * @param options - the stream, the adapter's hook and `onError`
 * @returns admitted with the caller's key (from the hub's policy), or the refusal to render
 */
export async function passDoor<R>(
  hub: Pick<Hub, 'authorize'>,
  at: DoorRequest<R>,
  options: Pick<ResolvedServeOptions<R>, 'stream' | 'authorize' | 'onError'>,
): Promise<DoorResult> {
  const stream = options.stream
  if (typeof stream !== 'string' || stream === '') {
    const message = 'The stream must be a non-empty string (a job, run or execution id); check the URL.'
    return {
      ok: false,
      refusal: {
        status: 400,
        code: 'invalid-stream',
        message,
        headers: {},
        issues: [{ path: 'stream', message, code: 'invalid_type' }],
      },
    }
  }
  try {
    const access = { stream, door: at.door, headers: at.headers, request: at.request }
    const policy = await hub.authorize(access)
    if (!policy.ok) return policy
    // The adapter's hook speaks the same language as the policy; a key it names is ignored,
    // since only the hub's policy says who the caller is.
    const own = await decideAccess(
      () => options.authorize(at.request, stream) as AccessDecision | Promise<AccessDecision>,
      access,
    )
    if (!own.ok) return own
    return { ok: true, key: policy.key }
  } catch (error) {
    options.onError(error)
    return {
      ok: false,
      refusal: internalRefusal('The server could not check access to the stream; try again later.'),
    }
  }
}

/**
 * Subscribes a request already let through its door, and turns every refusal of the hub into
 * data: 503 with `retryAfterMs` at a limit, 400 for a stream name the hub rejects, and a 500
 * for anything unexpected (reported through `onError`).
 *
 * @param hub - the hub
 * @param stream - the stream
 * @param options - the cursor, framing, the caller's key and a reservation to take over
 * @param onError - where unexpected errors go
 * @returns the subscription, the end of the stream, or the refusal
 */
export async function subscribeAdmitted(
  hub: Pick<Hub, 'subscribe'>,
  stream: string,
  options: {
    lastEventId: string | null
    framing: Framing | undefined
    key: string | undefined
    reservation?: Reservation | undefined
  },
  onError: (error: unknown) => void,
): Promise<Admission> {
  try {
    const subscription = await hub.subscribe(stream, {
      lastEventId: options.lastEventId,
      framing: options.framing,
      key: options.key,
      reservation: options.reservation,
    })
    return subscription === null ? { kind: 'ended' } : { kind: 'stream', subscription }
  } catch (error) {
    const refusal = refusalOf(error)
    if (refusal) return { kind: 'refused', refusal }
    onError(error)
    return {
      kind: 'refused',
      refusal: internalRefusal('The server could not open the stream; try again later.'),
    }
  }
}

/**
 * Lets a stream request through its door and subscribes it: see {@link passDoor} and
 * {@link subscribeAdmitted}. The cursor comes from the request's `Last-Event-ID` header or
 * `lastEventId` query parameter (see {@link readLastEventId}), the framing from the adapter's
 * option, else the request's `framing` query parameter (see {@link framingOf}). The caller's
 * key named by the hub's policy goes to `hub.subscribe`, so `maxConnectionsPerKey` and
 * `hub.disconnect({ key })` apply to it.
 *
 * @param hub - the hub
 * @param at - the door, the request and its headers
 * @param url - the request URL, absolute or a path with its query (`req.url` in Node)
 * @param options - the resolved options
 * @returns the subscription to stream, the end of the stream, or the refusal to render
 */
export async function admitSubscriber<R>(
  hub: Pick<Hub, 'subscribe' | 'authorize'>,
  at: DoorRequest<R>,
  url: string | URL,
  options: ResolvedServeOptions<R>,
): Promise<Admission> {
  const framing = framingOf(options.framing, url)
  if (!framing.ok) return { kind: 'refused', refusal: framing.refusal }
  const passed = await passDoor(hub, at, options)
  if (!passed.ok) return { kind: 'refused', refusal: passed.refusal }
  const lastEventId = readLastEventId(at.headers.get('last-event-id'), url)
  return subscribeAdmitted(
    hub,
    options.stream,
    { lastEventId, framing: framing.framing, key: passed.key },
    options.onError,
  )
}

/**
 * The framing a stream request gets: the adapter's `framing` option when set, else the
 * request's {@link FRAMING_PARAM} query parameter (`named` or `data-only`; empty or absent
 * leaves the hub's). Any other value of the parameter is refused with 400 `invalid-option`.
 *
 * @param option - the adapter's `framing` option
 * @param url - the request URL, absolute or a path with its query
 * @returns the framing (undefined for the hub's), or the refusal to render
 */
function framingOf(
  option: Framing | undefined,
  url: string | URL,
): { ok: true; framing: Framing | undefined } | { ok: false; refusal: DoorRefusal } {
  if (option !== undefined) return { ok: true, framing: option }
  const asked = queryOf(url).get(FRAMING_PARAM)
  if (asked === null || asked === '') return { ok: true, framing: undefined }
  if (asked === 'named' || asked === 'data-only') return { ok: true, framing: asked }
  const message = `The ${FRAMING_PARAM} query parameter must be 'named' or 'data-only'; leave it out for the server's default.`
  return {
    ok: false,
    refusal: {
      status: 400,
      code: 'invalid-option',
      message,
      headers: {},
      issues: [{ path: FRAMING_PARAM, message, code: 'invalid_value' }],
    },
  }
}

/**
 * The refusal a thrown taskwire error stands for: its status for a
 * {@link taskwire!TaskwireHttpError} (503 at a limit, with `retryAfterMs`), 400 with its
 * issues for a {@link taskwire!TaskwireValidationError}.
 *
 * @param error - anything caught
 * @returns the refusal, or undefined for an unexpected error
 */
export function refusalOf(error: unknown): DoorRefusal | undefined {
  // Checked by brand and shape rather than `instanceof`, so a hub bundled with another copy
  // of taskwire still gets its 503 answered as a 503.
  if (!isTaskwireError(error)) return undefined
  const http = error as Partial<TaskwireHttpError>
  if (typeof http.status === 'number') {
    return {
      status: http.status,
      code: error.code,
      message: error.message,
      headers: {},
      retryAfterMs: http.retryAfterMs,
    }
  }
  const issues = (error as Partial<TaskwireValidationError>).issues
  if (Array.isArray(issues)) {
    return {
      status: 400,
      code: error.code,
      message: error.message,
      headers: {},
      issues: issues.map((issue: ValidationIssue) => ({
        path: issue.path,
        message: issue.message,
        code: issue.code,
      })),
    }
  }
  return undefined
}

/**
 * A 500 refusal.
 *
 * @param message - what the client is told
 * @returns the refusal
 */
export function internalRefusal(message: string): DoorRefusal {
  return { status: 500, code: 'internal', message, headers: {} }
}

/**
 * Renders a refusal as an HTTP answer: its status, `Retry-After` in whole seconds when it is
 * temporary, its headers over the adapter's, and taskwire's JSON error body
 * `{ "error": { "code", "message", "retryAfterMs"?, "issues"? } }`.
 *
 * @param refusal - the refusal
 * @param headers - the adapter's extra headers
 * @returns the answer
 */
export function refusalAnswer(refusal: DoorRefusal, headers: Readonly<Record<string, string>>): PlainAnswer {
  const extra: Record<string, unknown> = {}
  const all: Record<string, string> = { ...headers, ...refusal.headers }
  if (refusal.retryAfterMs !== undefined) {
    // Retry-After counts whole seconds (RFC 9110 §10.2.3); rounding up never invites a
    // client back before the hub said it could take it.
    all['Retry-After'] = String(Math.max(0, Math.ceil(refusal.retryAfterMs / 1000)))
    extra.retryAfterMs = refusal.retryAfterMs
  }
  if (refusal.issues !== undefined) extra.issues = refusal.issues
  return jsonAnswer(refusal.status, refusal.code, refusal.message, all, extra)
}

/**
 * Renders what the hub said to a stream request that is not streamed: 204 for an ended
 * stream (which stops an `EventSource` for good, WHATWG HTML §9.2.3), else the refusal.
 *
 * @param admission - an `ended` or `refused` admission
 * @param headers - the adapter's extra headers
 * @returns the answer
 */
export function admissionAnswer(
  admission: Exclude<Admission, { kind: 'stream' }>,
  headers: Readonly<Record<string, string>>,
): PlainAnswer {
  if (admission.kind === 'ended') return { status: 204, headers: { ...headers }, body: null }
  return refusalAnswer(admission.refusal, headers)
}

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
