/** A timer that fires when nothing was received for too long. */
export interface Watchdog {
  /** Something arrived: start the silence window again. */
  kick(): void
  /** Stops watching until the next {@link Watchdog.kick}. */
  stop(): void
}

/**
 * Creates a silence detector. A connection can die without either side seeing a close (a
 * laptop sleeps, a NAT entry expires, a proxy drops the socket); the server's heartbeat
 * comments prove it is alive, so silence longer than a few heartbeats means it is not.
 *
 * @param timeoutMs - how long silence is tolerated, or `false` to never fire
 * @param onTimeout - called once when the window passes without a kick
 * @returns the watchdog, stopped until its first kick
 * @example
 * ```ts
 * const watchdog = createWatchdog(45_000, () => reconnect())
 * watchdog.kick() // on every chunk received
 * ```
 */
export function createWatchdog(timeoutMs: number | false, onTimeout: () => void): Watchdog {
  let timer: ReturnType<typeof setTimeout> | undefined
  let lastKick = 0
  // A busy stream kicks thousands of times a second; re-arming a timer each time would cost
  // more than the events. The timer instead checks, when it fires, how long it has been.
  const arm = (delayMs: number): void => {
    timer = setTimeout(() => {
      timer = undefined
      const silentMs = Date.now() - lastKick
      if (timeoutMs !== false && silentMs < timeoutMs) arm(timeoutMs - silentMs)
      else onTimeout()
    }, delayMs)
  }
  return {
    kick() {
      if (timeoutMs === false) return
      lastKick = Date.now()
      if (timer === undefined) arm(timeoutMs)
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    },
  }
}
