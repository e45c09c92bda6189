import { useMemo } from 'react'
import type { ConnectionStatus, ConnectOptions, Resync, RunSnapshot, RunSource } from '../client/index.js'
import type { Catalog, DefaultCatalog, TaskwireError } from '../core/index.js'
import { useRunSlice } from './use-run-slice.js'

/** What {@link useConnectionStatus} returns. */
export interface UseConnectionStatusResult {
  /** `idle`, `connecting`, `open`, `reconnecting` or `closed`. */
  readonly status: ConnectionStatus
  /** Why the connection is not open, if it is not. */
  readonly error: TaskwireError | null
  /** How the last opened connection continued the stream; a `reset` asks to refetch what you keep outside it. */
  readonly resync: Resync | null
  /** Reconnects now, resuming after the last event (a "Refresh" button). */
  readonly reconnect: () => void
}

type Connection = Omit<UseConnectionStatusResult, 'reconnect'>

const pickConnection = (snapshot: RunSnapshot): Connection => ({
  status: snapshot.status,
  error: snapshot.error,
  resync: snapshot.resync,
})
const sameConnection = (a: Connection, b: Connection): boolean =>
  a.status === b.status && a.error === b.error && a.resync === b.resync

/**
 * The connection of a stream, for a status dot and a "Refresh" button: it re-renders when
 * the status, the error or the resync changes, never for events. It shares the connection
 * of {@link useRun} and {@link useEvent} with the same URL and options.
 *
 * @param source - the stream's URL, a handle from `connect()`, or null for none
 * @param options - the options of `connect()`, for a URL; the same as the other hooks' to share their connection
 * @returns the status, the error, the last resync and `reconnect`
 * @example
 * ```tsx
 * import { useConnectionStatus } from 'taskwire/react'
 *
 * function StatusDot({ url }: { url: string }) {
 *   const { status, reconnect } = useConnectionStatus(url)
 *   return <button type="button" data-status={status} title={status} onClick={reconnect} />
 * }
 * ```
 */
export function useConnectionStatus<C extends Catalog = DefaultCatalog>(
  source: RunSource<C> | null | undefined,
  options?: ConnectOptions<C>,
): UseConnectionStatusResult {
  const { value, reconnect } = useRunSlice(source, options, pickConnection, sameConnection)
  return useMemo(() => ({ ...value, reconnect }), [value, reconnect])
}
