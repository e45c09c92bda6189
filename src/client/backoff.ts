/**
 * The most a server can make a client wait, through `retry:`, `Retry-After` or a WebSocket
 * close reason: larger values are clamped, so a hostile or mistaken header can neither park
 * a client for days nor overflow a timer (which fires at once past 2^31-1 ms).
 */
export const MAX_SERVER_DELAY_MS = 300_000

/** A reconnection schedule: a floor the server sets, exponential windows of jitter on top. */
export interface Backoff {
  /**
   * The delay before the next attempt, and counts the attempt.
   *
   * @param floorMs - the server's `retry:` or `Retry-After`, whichever is larger, if any
   * @returns milliseconds to wait
   */
  next(floorMs?: number | null): number
  /** Starts again from the first window, after a healthy connection. */
  reset(): void
}

/**
 * Clamps a delay a server asked for into `[0, MAX_SERVER_DELAY_MS]`.
 *
 * @param ms - the delay, possibly absent, negative, huge or not a number
 * @returns the delay to honour
 */
export function clampServerDelay(ms: number | null | undefined): number {
  if (ms === null || ms === undefined || !(ms > 0)) return 0
  return Math.min(ms, MAX_SERVER_DELAY_MS)
}

/**
 * Creates a reconnection schedule. Attempt `n` waits the server's floor plus a random time in
 * `[0, min(maxMs, initialMs × factorⁿ))` ("full jitter" on top of the floor): no server value
 * makes the client come back sooner than it asked, none stops the windows from growing, and
 * spreading clients over the window keeps a restarted server from being hit all at once.
 *
 * @param options - the windows
 * @param random - a source of numbers in `[0, 1)`
 * @returns the schedule
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function createBackoff(
  options: { initialMs: number; factor: number; maxMs: number },
  random: () => number,
): Backoff {
  let attempt = 0
  return {
    next(floorMs) {
      const window = Math.min(options.maxMs, options.initialMs * options.factor ** attempt)
      attempt++
      // A source that strays out of [0, 1) is held to the window, never to a zero delay.
      const draw = random()
      const jitter = draw > 0 ? Math.min(draw, 0.999999) : 0
      return clampServerDelay(floorMs) + Math.floor(jitter * window)
    },
    reset() {
      attempt = 0
    },
  }
}
