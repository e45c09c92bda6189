/** Options of {@link createHeartbeat}. */
export interface HeartbeatOptions<T> {
  /** Time between beats, in milliseconds; `false` never beats. */
  intervalMs: number | false
  /**
   * Called for every member at every beat.
   *
   * @param member - a member of the heartbeat
   */
  beat: (member: T) => void
}

/**
 * One timer shared by many members (connections): it runs while there is at least one
 * member and is cleared with the last, so an idle server holds no timer.
 */
export interface Heartbeat<T> {
  /** How many members beat. */
  readonly size: number
  /** True while the timer is set. */
  readonly running: boolean
  /**
   * Adds a member; the first one starts the timer.
   *
   * @param member - the member
   */
  add(member: T): void
  /**
   * Removes a member; the last one clears the timer.
   *
   * @param member - the member
   */
  delete(member: T): void
  /** Removes every member and clears the timer. */
  clear(): void
}

/**
 * Creates a heartbeat: one `setInterval` for every member, rather than one per connection.
 * In Node the timer is unref'd, so an open stream never keeps a process alive by itself.
 *
 * @param options - the interval and what to do at each beat
 * @returns a heartbeat without members
 * @example
 * ```ts
 * const heartbeat = createHeartbeat({ intervalMs: 15_000, beat: (sink) => sink.write(': hb\n\n') })
 * heartbeat.add(sink)
 * ```
 */
export function createHeartbeat<T>(options: HeartbeatOptions<T>): Heartbeat<T> {
  const members = new Set<T>()
  let timer: ReturnType<typeof setInterval> | undefined

  const stop = (): void => {
    if (timer === undefined) return
    clearInterval(timer)
    timer = undefined
  }

  const tick = (): void => {
    // A beat may end members (a failed write), so iterate over a copy.
    for (const member of [...members]) options.beat(member)
  }

  return {
    get size() {
      return members.size
    },
    get running() {
      return timer !== undefined
    },
    add(member) {
      members.add(member)
      if (timer === undefined && options.intervalMs !== false) {
        timer = setInterval(tick, options.intervalMs)
        // Node returns a Timeout with unref(); browsers, Deno and workers return a number.
        ;(timer as { unref?: () => void }).unref?.()
      }
    },
    delete(member) {
      members.delete(member)
      if (members.size === 0) stop()
    },
    clear() {
      members.clear()
      stop()
    },
  }
}
