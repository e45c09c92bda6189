import type { StreamHandle, StreamSnapshot } from '../../src/client/stream-handle.js'
import type { Catalog } from '../../src/core/index.js'

/**
 * Resolves with the first snapshot that satisfies `predicate` (checked now and after every
 * change), or rejects after `timeoutMs` with the last snapshot seen, so a test fails instead
 * of hanging.
 */
export function until<C extends Catalog>(
  handle: StreamHandle<C>,
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
