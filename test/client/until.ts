import type { StreamHandleBase, StreamSnapshot } from '../../src/client/stream-handle.js'

/**
 * Resolves with the first snapshot that satisfies `predicate` (checked now and after every
 * change), or rejects after `timeoutMs` with the last snapshot seen, so a test fails instead
 * of hanging. It counts as a subscriber while it waits: it connects an idle handle, and if it
 * was the last subscriber, the handle goes idle `lingerMs` after it resolves.
 */
export function until(
  handle: StreamHandleBase,
  predicate: (snapshot: StreamSnapshot) => boolean,
  timeoutMs = 10_000,
): Promise<StreamSnapshot> {
  return new Promise((resolve, reject) => {
    let unsubscribe = (): void => {}
    const timer = setTimeout(() => {
      unsubscribe()
      const { status, lastEventId, error } = handle.getSnapshot()
      reject(
        new Error(
          `condition not reached in ${timeoutMs} ms: ${JSON.stringify({ status, lastEventId, error: error?.message })}`,
        ),
      )
    }, timeoutMs)
    const check = (): boolean => {
      const snapshot = handle.getSnapshot()
      if (!predicate(snapshot)) return false
      clearTimeout(timer)
      unsubscribe()
      resolve(snapshot)
      return true
    }
    if (!check()) unsubscribe = handle.subscribe(() => void check())
  })
}
