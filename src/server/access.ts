import { isTaskwireError, type TaskwireHttpError } from '../core/index.js'

/**
 * The doors through which a caller reaches a stream: an SSE response (`serveNode`,
 * `serveWeb`), a poll (`servePoll`, `pollUpdates`), a WebSocket (`attachWebSocket`), a
 * snapshot read, and starting or cancelling an execution. Every door asks the hub's one
 * `authorize` policy, so a rule written once holds for all of them.
 */
export type Door = 'stream' | 'poll' | 'websocket' | 'snapshot' | 'start' | 'cancel'

/** Reads a request header by name, case-insensitively: a Web `Headers` or an adapter's view of Node's. */
export interface HeaderReader {
  /**
   * The header's value.
   *
   * @param name - the header name, any case
   * @returns its value (several joined by `, `), or null when absent
   */
  get(name: string): string | null
}

/** What the hub's `authorize` policy is asked about one request. */
export interface AccessRequest {
  /** The stream asked for (a job, run, workflow or execution id). */
  stream: string
  /** Which door the request came through. */
  door: Door
  /** The request's headers (`Authorization`, `Cookie` ...). */
  headers: HeaderReader
  /** The request as the framework gave it (a Node `IncomingMessage`, a Web `Request` ...). */
  request: unknown
}

/**
 * What an `authorize` policy decides: `true` admits, `{ key }` admits and names the caller
 * (a user or API key id: counted against `maxConnectionsPerKey`, matched by
 * `hub.disconnect({ key })`, and the scope of that caller's execution idempotency keys),
 * `false` refuses with 403, and a refusal object answers its status (401 to ask for
 * credentials, 403 to refuse them, 404 for a stream the caller may not know exists) with an
 * optional message and headers such as `WWW-Authenticate`.
 */
export type AccessDecision =
  | boolean
  | {
      /** Who the caller is. */
      key: string
    }
  | {
      /** The status to answer. */
      status: 401 | 403 | 404
      /** What the client is told in the JSON body. */
      message?: string | undefined
      /** Extra response headers (`WWW-Authenticate` for a 401). */
      headers?: Readonly<Record<string, string>> | undefined
    }

/**
 * The hub's authorization policy, run at every door before any byte of a stream is
 * written. It may also throw a {@link taskwire!TaskwireHttpError} with status 401, 403 or
 * 404; any other throw is an internal error (a 500, reported through `onError`).
 *
 * @param access - the stream, the door, the headers and the raw request
 * @returns the decision, or a promise of it
 */
export type AccessPolicy = (access: AccessRequest) => AccessDecision | Promise<AccessDecision>

/** A refusal, as data every adapter renders in its own way (an HTTP answer, a close code). */
export interface Refusal {
  /** The HTTP status (401, 403, 404, 413, 503 ...). */
  status: number
  /** A stable kebab-case code (`unauthorized`, `forbidden`, `not-found`, `connection-limit` ...). */
  code: string
  /** What happened and what to do next. */
  message: string
  /** Extra headers to send (`WWW-Authenticate`). */
  headers: Readonly<Record<string, string>>
  /** How long to wait before retrying, when the refusal is temporary. */
  retryAfterMs?: number | undefined
}

/** What the hub decided about a request: admitted (with the caller's key, if any) or refused. */
export type AccessResult =
  | {
      /** Admitted. */
      ok: true
      /** The caller's key, when the policy named one. */
      key: string | undefined
    }
  | {
      /** Refused. */
      ok: false
      /** Why, ready to be rendered. */
      refusal: Refusal
    }

const REFUSALS = {
  401: { code: 'unauthorized', message: 'Authentication is required to read this stream; send credentials.' },
  403: { code: 'forbidden', message: 'These credentials may not read this stream.' },
  404: { code: 'not-found', message: 'No such stream.' },
} as const

/**
 * Runs an access policy and normalizes its decision. A {@link taskwire!TaskwireHttpError}
 * with status 401, 403 or 404 thrown by the policy is a refusal like a returned one.
 *
 * @param policy - the policy
 * @param access - the request to decide on
 * @returns admitted with the caller's key, or the refusal
 * @throws whatever else the policy threw
 */
export async function decideAccess(policy: AccessPolicy, access: AccessRequest): Promise<AccessResult> {
  let decision: AccessDecision
  try {
    decision = await policy(access)
  } catch (error) {
    if (!isAuthStatusError(error)) throw error
    decision = { status: error.status as 401 | 403 | 404, message: error.message }
  }
  if (decision === true) return { ok: true, key: undefined }
  if (typeof decision === 'object' && 'key' in decision) {
    if (typeof decision.key !== 'string' || decision.key === '') {
      throw new TypeError('authorize returned { key } without a non-empty string key.')
    }
    return { ok: true, key: decision.key }
  }
  const refused = decision === false ? { status: 403 as const } : decision
  const fallback = REFUSALS[refused.status]
  return {
    ok: false,
    refusal: {
      status: refused.status,
      code: fallback.code,
      message: refused.message ?? fallback.message,
      headers: { ...refused.headers },
    },
  }
}

// Checked by brand and shape rather than `instanceof`, so an error from another copy of
// taskwire is still read as the refusal it is.
function isAuthStatusError(error: unknown): error is TaskwireHttpError {
  if (!isTaskwireError(error)) return false
  const status = (error as Partial<TaskwireHttpError>).status
  return status === 401 || status === 403 || status === 404
}
