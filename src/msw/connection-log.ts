import type { Envelope } from '../core/index.js'
import type { ConnectionEnd } from './types.js'

/** A connection as the handler keeps it: the public view, written as the script runs. */
export interface ConnectionRecord {
  readonly attempt: number
  readonly request: Request
  readonly lastEventId: string | null
  status: number | null
  readonly events: Envelope[]
  end: ConnectionEnd | null
}

/** The connections of one handler, in the order the requests came. */
export interface ConnectionLog {
  /** Every connection so far. */
  readonly connections: readonly ConnectionRecord[]
  /**
   * Counts a request.
   *
   * @returns its attempt number, from 1
   */
  nextAttempt(): number
  /**
   * Adds a connection and wakes those waiting for it.
   *
   * @param record - the connection
   */
  add(record: ConnectionRecord): void
  /**
   * Waits for a connection.
   *
   * @param attempt - its attempt number
   * @returns the connection, once its request has come
   */
  waitFor(attempt: number): Promise<ConnectionRecord>
  /** Forgets every connection; attempts count from 1 again. Waiters keep waiting. */
  clear(): void
}

/**
 * Creates an empty connection log.
 *
 * @returns the log
 */
export function createConnectionLog(): ConnectionLog {
  const connections: ConnectionRecord[] = []
  const waiters = new Map<number, ((record: ConnectionRecord) => void)[]>()
  let attempts = 0
  return {
    connections,
    nextAttempt: () => ++attempts,
    add(record) {
      connections.push(record)
      const waiting = waiters.get(record.attempt)
      waiters.delete(record.attempt)
      for (const wake of waiting ?? []) wake(record)
    },
    waitFor(attempt) {
      const found = connections.find((record) => record.attempt === attempt)
      if (found) return Promise.resolve(found)
      return new Promise((resolve) => {
        const waiting = waiters.get(attempt) ?? []
        waiting.push(resolve)
        waiters.set(attempt, waiting)
      })
    },
    clear() {
      connections.length = 0
      attempts = 0
    },
  }
}
