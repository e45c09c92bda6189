import type { EventMessage, TaskwireError } from '../core/index.js'
import type { ResolvedConnectOptions } from './options.js'

/**
 * How a connection attempt ended, as a transport reports it:
 * - `done`: the server said the stream is over (HTTP 204, WebSocket 4204, a poll with
 *   `ended`); the client closes without error.
 * - `retry`: the connection dropped or the server asked to come back later; the client
 *   reconnects after its backoff, resuming from the last id.
 * - `fatal`: retrying cannot help (401, 403, 404, a wrong content type); the client closes
 *   with the error.
 */
export type AttemptOutcome =
  | {
      /** The stream is over. */
      type: 'done'
    }
  | {
      /** Reconnect after the backoff. */
      type: 'retry'
      /** Why the attempt failed, when it did. */
      error?: TaskwireError | undefined
      /** How long the server asked to wait. */
      retryAfterMs?: number | undefined
    }
  | {
      /** Give up. */
      type: 'fatal'
      /** Why. */
      error: TaskwireError
    }

/** What the client gives a transport for one connection attempt. */
export interface TransportRequest {
  /** The URL the user passed to `connect()`. */
  url: string
  /** The last event id to resume after, read when the attempt (or poll) starts. */
  lastEventId(): string | null
  /** Aborted when the attempt must stop: the transport then releases everything it holds. */
  signal: AbortSignal
  /** The request headers for this attempt (the user's function is called each time). */
  headers(): Promise<Record<string, string>>
}

/**
 * Where a transport reports what happens on its connection. Calls made after the attempt's
 * signal aborted are ignored, so a late callback from a dying socket cannot leak into the
 * next attempt.
 */
export interface TransportSink {
  /** The server accepted the stream. */
  open(): void
  /** Bytes arrived (data or a heartbeat): the connection is alive. */
  activity(): void
  /** Nothing is expected for a while (between two polls): pause the silence watchdog. */
  idle(): void
  /**
   * SSE text, in any chunking.
   *
   * @param chunk - decoded text
   */
  text(chunk: string): void
  /**
   * A message already parsed (by a native `EventSource`).
   *
   * @param message - its data, name and id
   */
  message(message: EventMessage): void
  /**
   * The attempt ended.
   *
   * @param outcome - why, and whether to reconnect
   */
  end(outcome: AttemptOutcome): void
}

/**
 * A way to reach a stream: `fetchTransport`, `eventSourceTransport`, `webSocketTransport`,
 * `pollingTransport`, or `autoTransport` (the default). Each is a value of its own, so an
 * app ships only the transports it passes to `connect()`.
 */
export interface Transport {
  /** A name for messages and stats (`fetch`, `eventsource` ...). */
  readonly name: string
  /**
   * Checks that the options give the transport what it needs (a constructor, `fetch`, a
   * method it can send), when `connect()` is called.
   *
   * @param options - the resolved options
   * @returns what is missing, or undefined when nothing is
   */
  check(options: ResolvedConnectOptions): string | undefined
  /**
   * Opens one connection attempt, reports through the sink, and releases its connection,
   * listeners and timers when `request.signal` aborts.
   *
   * @param request - the URL, the cursor, the headers and the abort signal
   * @param sink - where the attempt reports
   * @param options - the resolved options
   */
  open(request: TransportRequest, sink: TransportSink, options: ResolvedConnectOptions): void
}
