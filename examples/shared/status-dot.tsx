import type { ConnectionStatus } from 'taskwire/react'
import { STATUS_LABELS } from './status-labels.js'

/**
 * The connection dot of the example pages: green while the stream is open, amber while it
 * connects, red while it reconnects, grey before it starts and once it has ended.
 * `data-status` carries the status for tests and styles.
 */
export function StatusDot({ status }: { status: ConnectionStatus }) {
  return (
    <span className="tw-status" data-status={status} title={STATUS_LABELS[status]}>
      <span className="tw-dot" aria-hidden="true" />
      {STATUS_LABELS[status]}
    </span>
  )
}
