import { useEffect } from 'react'
import type { ConnectOptions, RunSource } from '../client/index.js'
import { runRef } from '../client/shared-run.js'
import type { Catalog, DefaultCatalog, EventOf, EventType } from '../core/index.js'
import { useLatest } from './use-latest.js'

/**
 * Calls `handler` for each event of one type (or every event with `'*'`), typed by the
 * catalog: a toast on `task.created`, a sound on `run.completed`. The handler may be a new
 * function on every render: the latest one is called, and changing it neither resubscribes
 * nor reconnects. It shares the connection of {@link useRun} with the same URL and options,
 * and holds it open while mounted. Events replayed after a reconnect are not delivered
 * twice. Nothing connects while rendering.
 *
 * @param source - the stream's URL, a handle from `connect()`, or null for none
 * @param type - an event type of the catalog, or `'*'`
 * @param handler - called with each event of that type
 * @param options - the options of `connect()`, for a URL; the same as the other hooks' to share their connection
 * @example
 * ```tsx
 * import { useEvent } from 'taskwire/react'
 *
 * function Toasts({ url, toast }: { url: string; toast: (text: string) => void }) {
 *   useEvent(url, 'task.created', (event) => toast(`New task: ${event.data.title ?? event.data.taskId}`))
 *   return null
 * }
 * ```
 */
export function useEvent<
  C extends Catalog = DefaultCatalog,
  T extends EventType<C> | '*' = EventType<C> | '*',
>(
  source: RunSource<C> | null | undefined,
  type: T,
  handler: (event: T extends EventType<C> ? EventOf<C, T> : EventOf<C>) => void,
  options?: ConnectOptions<C>,
): void {
  const latest = useLatest(handler)
  const ref = source == null ? null : runRef(source, options)
  const key = ref?.key ?? null
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for `ref`; `latest` is a ref
  useEffect(() => {
    if (!ref) return
    const lease = ref.acquire()
    const stop = lease.handle.on(type, (event) => latest.current(event))
    return () => {
      stop()
      lease.release()
    }
  }, [key, type])
}
