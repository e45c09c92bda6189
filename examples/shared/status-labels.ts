import type { ConnectionStatus } from 'taskwire/client'

/** The words every example page shows beside its connection dot. */
export const STATUS_LABELS: Readonly<Record<ConnectionStatus, string>> = {
  idle: 'Idle',
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Closed',
}
