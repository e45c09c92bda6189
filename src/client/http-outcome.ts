import { TaskwireError, TaskwireHttpError } from '../core/index.js'
import { clampServerDelay } from './backoff.js'
import type { AttemptOutcome } from './transport.js'

/**
 * Reads a `Retry-After` header: delay-seconds or an HTTP date.
 *
 * @param value - the header value
 * @param now - the current time in milliseconds
 * @returns milliseconds to wait, clamped to what the client honours, or undefined when
 *   absent or unreadable
 * @see https://httpwg.org/specs/rfc9110.html#field.retry-after
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now
  return Number.isNaN(ms) ? undefined : clampServerDelay(ms)
}

/**
 * Decides what a response status means for the stream. 200 proceeds and 204 is the end (the
 * EventSource spec's way to stop reconnection); 408, 429 and 5xx are worth retrying, after
 * `Retry-After` when the server sent one; every other status fails the connection for good
 * (WHATWG HTML §9.2.3: a status other than 200 is not a stream), 401 and 403 with their own
 * codes.
 *
 * @param status - the HTTP status (or a WebSocket close code minus 4000)
 * @param retryAfterMs - the server's `Retry-After`, when sent
 * @param detail - where the status came from, for the message
 * @returns the outcome, or undefined for a 200 (the stream may proceed)
 */
export function outcomeForStatus(
  status: number,
  retryAfterMs: number | undefined,
  detail: string,
): AttemptOutcome | undefined {
  if (status === 200) return undefined
  if (status === 204) return { type: 'done' }
  const retry = status === 408 || status === 429 || status >= 500
  const code = status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'http-status'
  const next = retry ? 'reconnecting' : status === 401 ? 'send credentials' : 'giving up'
  const error = new TaskwireHttpError(status, `${detail} answered ${status}; ${next}.`, {
    code,
    retryAfterMs,
  })
  return retry ? { type: 'retry', error, retryAfterMs } : { type: 'fatal', error }
}

/**
 * Checks a fetch response before its body is read.
 *
 * @param response - the response
 * @param expectedType - the media type the body must have
 * @param detail - where it came from, for messages
 * @returns the outcome when the stream cannot proceed, or undefined when it can
 */
export function outcomeForResponse(
  response: Response,
  expectedType: string,
  detail: string,
): AttemptOutcome | undefined {
  const status = response.status
  const refused = outcomeForStatus(status, parseRetryAfter(response.headers.get('retry-after')), detail)
  if (refused) return refused
  const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (type === expectedType && response.body) return undefined
  const message = `${detail} answered ${type || 'no body'}, not ${expectedType}; is it a taskwire route?`
  return { type: 'fatal', error: new TaskwireHttpError(status, message, { code: 'invalid-content-type' }) }
}

/**
 * Wraps a failure to reach the server.
 *
 * @param cause - what fetch or the socket threw
 * @param detail - where it happened
 * @returns a retry outcome with a `network` error
 */
export function networkOutcome(cause: unknown, detail: string): AttemptOutcome {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return {
    type: 'retry',
    error: new TaskwireError('network', `${detail} failed (${reason}); reconnecting.`, { cause }),
  }
}
