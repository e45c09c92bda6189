import { TaskwireError, TaskwireHttpError } from '../core/index.js'
import type { AttemptOutcome } from './transport.js'

/**
 * Reads a `Retry-After` header: delay-seconds or an HTTP date.
 *
 * @param value - the header value
 * @param now - the current time in milliseconds
 * @returns milliseconds to wait, or undefined when absent or unreadable
 * @see https://httpwg.org/specs/rfc9110.html#field.retry-after
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

/**
 * Decides what a response status means for the stream. 204 is the end (the EventSource
 * spec's way to stop reconnection); 401, 403, 404 and other client errors are fatal; 408,
 * 429 and 5xx are worth retrying, after `Retry-After` when the server sent one.
 *
 * @param status - the HTTP status (or a WebSocket close code minus 4000)
 * @param retryAfterMs - the server's `Retry-After`, when sent
 * @param detail - where the status came from, for the message
 * @returns the outcome, or undefined for a 2xx other than 204 (the stream may proceed)
 */
export function outcomeForStatus(
  status: number,
  retryAfterMs: number | undefined,
  detail: string,
): AttemptOutcome | undefined {
  if (status === 204) return { type: 'done' }
  if (status >= 200 && status < 300) return undefined
  if (status === 401) {
    return fatal(status, 'unauthorized', `${detail} answered 401: send valid credentials (headers, cookie).`)
  }
  if (status === 403) {
    return fatal(status, 'forbidden', `${detail} answered 403: this user may not read the stream.`)
  }
  if (status === 408 || status === 429 || status >= 500) {
    const error = new TaskwireHttpError(status, `${detail} answered ${status}; reconnecting.`, {
      retryAfterMs,
    })
    return { type: 'retry', error, retryAfterMs }
  }
  return fatal(status, 'http-status', `${detail} answered ${status}; check the URL and method.`)
}

function fatal(
  status: number,
  code: 'unauthorized' | 'forbidden' | 'http-status',
  message: string,
): AttemptOutcome {
  return { type: 'fatal', error: new TaskwireHttpError(status, message, { code }) }
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
  const statusOutcome = outcomeForStatus(
    response.status,
    parseRetryAfter(response.headers.get('retry-after')),
    detail,
  )
  if (statusOutcome) return statusOutcome
  const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== expectedType) {
    return {
      type: 'fatal',
      error: new TaskwireHttpError(
        response.status,
        `${detail} answered with content type ${JSON.stringify(type)} instead of ${expectedType}; is the URL a taskwire endpoint?`,
        { code: 'invalid-content-type' },
      ),
    }
  }
  if (!response.body && expectedType === 'text/event-stream') {
    return {
      type: 'fatal',
      error: new TaskwireError(
        'invalid-content-type',
        `${detail} returned no readable body; use a fetch that streams.`,
      ),
    }
  }
  return undefined
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
