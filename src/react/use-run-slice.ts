import { useCallback, useRef, useSyncExternalStore } from 'react'
import type { ConnectOptions } from '../client/index.js'
import { idleRunSnapshot, type RunSnapshot, type RunSource, runRef } from '../client/shared-run.js'
import type { Catalog } from '../core/index.js'

/** What a view reads of a shared run, and how to reconnect it. */
export interface RunSlice<T> {
  /** The slice this render shows. */
  readonly value: T
  /** Reconnects the run's stream now; does nothing without one. */
  readonly reconnect: () => void
}

/**
 * Reads a slice of the run shared by every view of the same source and options, through
 * `useSyncExternalStore`: nothing is created or connected while rendering (on the server
 * nothing ever is); the subscription, made after the commit, takes a reference to the run
 * and the connection opens; unmounting gives it back. A render happens only when `isEqual`
 * says the slice changed.
 *
 * @param source - the stream's URL or handle; null or undefined for none
 * @param options - the connect options, for a URL
 * @param pick - takes the slice from a run snapshot; keep it stable between renders when you can
 * @param isEqual - tells whether two slices render the same
 * @returns the slice and a reconnect function
 */
export function useRunSlice<C extends Catalog, T>(
  source: RunSource<C> | null | undefined,
  options: ConnectOptions<C> | undefined,
  pick: (snapshot: RunSnapshot) => T,
  isEqual: (a: T, b: T) => boolean,
): RunSlice<T> {
  const ref = source == null ? null : runRef(source, options)
  const key = ref?.key ?? null
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for `ref`: equal keys name the same run
  const subscribe = useCallback(
    (listener: () => void) => {
      if (!ref) return () => {}
      const lease = ref.acquire()
      const stop = lease.subscribe(listener)
      return () => {
        stop()
        lease.release()
      }
    },
    [key],
  )
  // The last slice handed to React: the same object comes back while it renders the same,
  // which is what lets useSyncExternalStore skip the render.
  const cache = useRef<{ snapshot: RunSnapshot; pick: unknown; value: T } | null>(null)
  const slice = (snapshot: RunSnapshot): T => {
    const last = cache.current
    if (last && last.snapshot === snapshot && last.pick === pick) return last.value
    const next = pick(snapshot)
    const value = last && isEqual(last.value, next) ? last.value : next
    cache.current = { snapshot, pick, value }
    return value
  }
  const value = useSyncExternalStore(
    subscribe,
    () => slice(ref?.find()?.getSnapshot() ?? idleRunSnapshot),
    () => slice(idleRunSnapshot),
  )
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for `ref`
  const reconnect = useCallback(() => ref?.find()?.handle.reconnect(), [key])
  return { value, reconnect }
}
