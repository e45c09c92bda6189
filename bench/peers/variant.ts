import type { Server } from 'node:http'
import type { ProgressPayload } from './payload.js'

/** One implementation of SSE fan-out under test. */
export interface Variant {
  /** A node:http server, not listening yet, serving stream `<name>` at `/s/<name>`. */
  readonly server: Server
  /**
   * Sends an `agent.progress` event to every subscriber of a stream.
   *
   * @param stream - the stream's name
   * @param payload - the event's data
   */
  publish(stream: string, payload: ProgressPayload): void
}
