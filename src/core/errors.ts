/**
 * Every way taskwire can fail, as a kebab-case code. Switch on `error.code` rather than on
 * messages: messages may be reworded, codes are part of the public contract.
 */
export type TaskwireErrorCode =
  | 'invalid-frame'
  | 'invalid-event'
  | 'invalid-stream'
  | 'unknown-event-type'
  | 'event-too-large'
  | 'body-too-large'
  | 'reserved-event-type'
  | 'invalid-option'
  | 'http-status'
  | 'invalid-content-type'
  | 'connection-limit'
  | 'stream-limit'
  | 'unauthorized'
  | 'forbidden'
  | 'slow-consumer'
  | 'stream-closed'
  | 'network'
  | 'timeout'
  | 'aborted'
  | 'broker'
  | 'broker-full'
  | 'broker-unavailable'
  | 'revoked'
  | 'stream-buffered'
  | 'response-buffered'

const BRAND = Symbol.for('taskwire.error')

/** Options accepted by every taskwire error constructor. */
export interface TaskwireErrorOptions {
  /** The underlying error, kept for debugging. */
  cause?: unknown
}

/**
 * The base class of every error taskwire raises or reports.
 *
 * @example
 * ```ts
 * try {
 *   hub.publish('job-7', 'task.status', body)
 * } catch (error) {
 *   if (isTaskwireError(error) && error.code === 'invalid-event') console.warn(error.message)
 * }
 * ```
 */
export class TaskwireError extends Error {
  /** What went wrong, as a stable machine-readable code. */
  readonly code: TaskwireErrorCode

  /**
   * Creates an error with a stable code.
   *
   * @param code - the stable code callers switch on
   * @param message - what happened and what to do next
   * @param options - the `cause`, if any
   */
  constructor(code: TaskwireErrorCode, message: string, options: TaskwireErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined)
    this.name = 'TaskwireError'
    this.code = code
    Object.defineProperty(this, BRAND, { value: true })
  }
}

/** A response whose HTTP status the caller must act on (401, 403, 404, 503 ...). */
export class TaskwireHttpError extends TaskwireError {
  /** The HTTP status code of the response. */
  readonly status: number
  /** How long the server asked the client to wait (`Retry-After`, in milliseconds), when it said. */
  readonly retryAfterMs: number | undefined

  /**
   * Creates an error for an HTTP status, `http-status` unless another code is given.
   *
   * @param status - the HTTP status received
   * @param message - what happened and what to do next
   * @param options - `retryAfterMs` from a `Retry-After` header, and the `cause`
   */
  constructor(
    status: number,
    message: string,
    options: TaskwireErrorOptions & { retryAfterMs?: number | undefined; code?: TaskwireErrorCode } = {},
  ) {
    super(options.code ?? 'http-status', message, options)
    this.name = 'TaskwireHttpError'
    this.status = status
    this.retryAfterMs = options.retryAfterMs
  }
}

/** One field that failed validation. */
export interface ValidationIssue {
  /** Dotted path to the field, such as `data.taskId`; empty for the value as a whole. */
  path: string
  /** What is wrong with it. */
  message: string
  /** A short machine-readable reason (zod's issue code, or `unknown-event-type`). */
  code: string
}

/** An event or frame that does not match the catalog; `issues` lists each invalid field. */
export class TaskwireValidationError extends TaskwireError {
  /** Each invalid field, in the order they were found. */
  readonly issues: readonly ValidationIssue[]

  /**
   * Creates a validation error, `invalid-event` unless another code is given.
   *
   * @param message - a summary of what failed
   * @param issues - each invalid field
   * @param options - a `code` other than `invalid-event`, and the `cause`
   */
  constructor(
    message: string,
    issues: readonly ValidationIssue[],
    options: TaskwireErrorOptions & { code?: TaskwireErrorCode } = {},
  ) {
    super(options.code ?? 'invalid-event', message, options)
    this.name = 'TaskwireValidationError'
    this.issues = issues
  }
}

/**
 * Tells whether a value is a taskwire error. Unlike `instanceof`, it also recognises errors
 * created by another copy of taskwire (a second bundle, an iframe, a worker).
 *
 * @param value - anything caught
 * @returns true when `value` is a {@link TaskwireError}
 */
export function isTaskwireError(value: unknown): value is TaskwireError {
  return (
    typeof value === 'object' && value !== null && (value as Record<PropertyKey, unknown>)[BRAND] === true
  )
}
