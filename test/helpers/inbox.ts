/**
 * Collects what an asynchronous source reports (a browser page, an EventSource) and lets a
 * test await a condition on it. `waitFor` is driven by `push`, never by polling; its deadline
 * only turns a hang into a readable failure.
 */
export class Inbox<T> {
  readonly items: T[] = []
  readonly #waiters = new Set<{ check: () => boolean }>()

  /**
   * Adds an item and wakes the waiters whose condition now holds.
   *
   * @param item - what arrived
   */
  push = (item: T): void => {
    this.items.push(item)
    for (const waiter of [...this.#waiters]) waiter.check()
  }

  /**
   * Resolves once `condition(items)` holds.
   *
   * @param condition - checked now and after every push
   * @param label - named in the failure
   * @param deadlineMs - how long before failing with what arrived so far
   * @returns the items
   */
  waitFor(condition: (items: readonly T[]) => boolean, label: string, deadlineMs = 10_000): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: (): boolean => {
          if (!condition(this.items)) return false
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          resolve(this.items)
          return true
        },
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        reject(new Error(`timed out waiting for ${label}; got ${JSON.stringify(this.items)}`))
      }, deadlineMs)
      this.#waiters.add(waiter)
      waiter.check()
    })
  }
}
