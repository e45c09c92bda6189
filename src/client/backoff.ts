/** How long to wait between reconnection attempts. */
export interface BackoffOptions {
  /**
   * The first delay window, used until the server sends `retry:`.
   * @defaultValue `500`
   */
  initialMs: number
  /**
   * How much the window grows after each failed attempt.
   * @defaultValue `2`
   */
  factor: number
  /**
   * The largest window; a server `retry:` larger than this is still honored.
   * @defaultValue `30000`
   */
  maxMs: number
  /**
   * A connection that stayed open this long counts as healthy, so the next failure starts
   * again from the first window (one event received counts as healthy too).
   * @defaultValue `10000`
   */
  resetAfterMs: number
}

/** What the server said about when to come back. */
export interface BackoffHint {
  /** The server's `retry:` field, which replaces `initialMs` as the base window. */
  baseMs?: number | null | undefined
  /** A `Retry-After` (or the WebSocket close reason's equivalent); the delay is at least this. */
  retryAfterMs?: number | undefined
}

/** A reconnection schedule: exponential windows with full jitter. */
export interface Backoff {
  /**
   * The delay before the next attempt, and counts the attempt.
   *
   * @param hint - the server's `retry:` and `Retry-After`, when it sent them
   * @returns milliseconds to wait
   */
  next(hint?: BackoffHint): number
  /** Starts again from the first window, after a healthy connection. */
  reset(): void
  /** Failed attempts since the last reset. */
  readonly attempt: number
}

/**
 * Creates a reconnection schedule with "full jitter": attempt `n` waits a random time in
 * `[0, min(cap, base × factorⁿ))`. Spreading clients uniformly over the whole window keeps a
 * server restart from being hit by every client at the same instant.
 *
 * @param options - the windows
 * @param random - a source of numbers in `[0, 1)`, injectable for tests
 * @returns the schedule
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 * @example
 * ```ts
 * const backoff = createBackoff({ initialMs: 500, factor: 2, maxMs: 30_000, resetAfterMs: 10_000 })
 * setTimeout(reconnect, backoff.next())
 * ```
 */
export function createBackoff(
  options: Pick<BackoffOptions, 'initialMs' | 'factor' | 'maxMs'>,
  random: () => number = Math.random,
): Backoff {
  let attempt = 0
  return {
    next(hint = {}) {
      const base = hint.baseMs ?? options.initialMs
      const cap = Math.max(options.maxMs, base)
      const window = Math.min(cap, base * options.factor ** attempt)
      attempt++
      const jittered = Math.floor(clamp01(random()) * window)
      return Math.max(jittered, hint.retryAfterMs ?? 0)
    },
    reset() {
      attempt = 0
    },
    get attempt() {
      return attempt
    },
  }
}

function clamp01(value: number): number {
  if (!(value >= 0)) return 0
  return value >= 1 ? 0.999999 : value
}
