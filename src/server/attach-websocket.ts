import type { IncomingMessage } from 'node:http'
import type { Catalog, TaskwireError } from '../core/index.js'
import { type Authorize, admitSubscriber, type PlainAnswer, resolveServeOptions } from './admit-subscriber.js'
import type { Hub, SubscriberSink, Subscription } from './types.js'

/** The part of a `ws` `WebSocket` the adapter uses. */
export interface WebSocketConnection {
  /** 1 while open. */
  readonly readyState: number
  /** Bytes queued but not yet sent. */
  readonly bufferedAmount: number
  /**
   * Sends a text message.
   *
   * @param data - the text
   */
  send(data: string): void
  /**
   * Closes with a code and reason.
   *
   * @param code - the close code
   * @param reason - at most 123 bytes
   */
  close(code?: number, reason?: string): void
  /** Destroys the connection without a closing handshake. */
  terminate(): void
  /**
   * Listens to `message`, `close` and `error`.
   *
   * @param event - the event name
   * @param listener - the handler
   */
  on(event: 'message' | 'close' | 'error', listener: (...args: never[]) => void): unknown
}

/** The part of a `ws` `WebSocketServer` the adapter uses. */
export interface WebSocketServerLike {
  /**
   * Listens to new connections.
   *
   * @param event - `connection`
   * @param listener - called with the socket and its upgrade request
   */
  on(event: 'connection', listener: (socket: WebSocketConnection, request: IncomingMessage) => void): unknown
  /**
   * Stops listening.
   *
   * @param event - `connection`
   * @param listener - the handler given to `on`
   */
  off(event: 'connection', listener: (socket: WebSocketConnection, request: IncomingMessage) => void): unknown
}

/** The options of {@link attachWebSocket}. */
export interface AttachWebSocketOptions {
  /**
   * Picks the stream from the upgrade request (its URL, say `/ws/executions/42`). Return
   * null to refuse the connection with close code 4404.
   */
  stream: (request: IncomingMessage) => string | null
  /**
   * Checked before the hub admits the connection, as for the HTTP adapters; a refusal
   * closes with 4000 + its status (4401, 4403, 4404).
   * @defaultValue admits every connection
   */
  authorize?: Authorize<IncomingMessage> | undefined
  /**
   * How frames name their event.
   * @defaultValue the hub's `framing`
   */
  framing?: 'named' | 'data-only' | undefined
  /**
   * How long a new socket may take to send its first message (`{"lastEventId": ...}`)
   * before it is closed with 4408.
   * @defaultValue `10000`
   */
  firstMessageTimeoutMs?: number | undefined
  /**
   * Receives errors the client only sees as a 4500 close (an `authorize` hook, a `stream`
   * function or a broker that threw).
   * @defaultValue `console.error`
   */
  onError?: ((error: unknown) => void) | undefined
}

/** The defaults of {@link AttachWebSocketOptions}. */
export const DEFAULT_ATTACH_WEBSOCKET_OPTIONS = Object.freeze({
  /** Ten seconds for the first message. */
  firstMessageTimeoutMs: 10_000,
})

/**
 * The close codes {@link attachWebSocket} uses. A WebSocket has no status line, so the HTTP
 * status a stream request would have received is sent as 4000 + status, which the client
 * maps back through the same rules as on HTTP.
 */
export const WEBSOCKET_CLOSE_CODES = Object.freeze({
  /** The run ended (terminal event written), or the client asked to close. */
  normal: 1000,
  /** The hub shut down: reconnect, to another server if there is one. */
  tryAgainLater: 1013,
  /** The first message was not `{"lastEventId": string | null}`. */
  badRequest: 4400,
  /** `authorize` asked for credentials. */
  unauthorized: 4401,
  /** `authorize` refused. */
  forbidden: 4403,
  /** No such stream. */
  notFound: 4404,
  /** No first message in time. */
  timeout: 4408,
  /** The stream has ended and nothing follows the cursor (HTTP 204): do not reconnect. */
  ended: 4204,
  /** The server failed; reconnect later. */
  internal: 4500,
  /** A connection limit was reached; the reason holds `retryAfterMs`. */
  limit: 4503,
})

const OPEN = 1

/**
 * Serves hub streams over WebSocket, with the same frames, replay, limits, heartbeat and
 * `authorize` hook as the HTTP adapters. The client's first message is JSON
 * `{"lastEventId": "42"}` (or `null`); every server message is SSE text, byte for byte what
 * an HTTP subscriber receives, so the client decodes both the same way. See
 * {@link WEBSOCKET_CLOSE_CODES} for how it ends.
 *
 * @param hub - the hub to read from
 * @param server - a `ws` `WebSocketServer` (with `noServer` or its own port)
 * @param options - how to pick the stream, and optional `authorize`, `framing`, `onError`
 * @returns a function that stops accepting connections (open ones continue until they end)
 * @example
 * ```ts
 * import { WebSocketServer } from 'ws'
 * import { attachWebSocket, createHub } from 'taskwire/server'
 *
 * const hub = createHub()
 * const wss = new WebSocketServer({ server: httpServer, path: '/ws' })
 * attachWebSocket(hub, wss, { stream: (request) => new URL(request.url ?? '', 'http://x').searchParams.get('run') })
 * ```
 */
export function attachWebSocket<C extends Catalog>(
  hub: Hub<C>,
  server: WebSocketServerLike,
  options: AttachWebSocketOptions,
): () => void {
  const onError = options.onError ?? ((error: unknown) => console.error(error))
  const firstMessageTimeoutMs =
    options.firstMessageTimeoutMs ?? DEFAULT_ATTACH_WEBSOCKET_OPTIONS.firstMessageTimeoutMs

  const onConnection = (socket: WebSocketConnection, request: IncomingMessage): void => {
    let subscription: Subscription | undefined
    let gone = false
    let started = false
    const timer = setTimeout(
      () => close(WEBSOCKET_CLOSE_CODES.timeout, 'send {"lastEventId"} first'),
      firstMessageTimeoutMs,
    )
    const close = (code: number, reason: string): void => {
      clearTimeout(timer)
      if (!gone && socket.readyState === OPEN) socket.close(code, reason)
    }

    socket.on('close', () => {
      gone = true
      clearTimeout(timer)
      subscription?.close()
    })
    // A client that vanishes surfaces as an error and then a close; the close does the work.
    socket.on('error', () => {})
    socket.on('message', (data: unknown) => {
      if (started) return
      started = true
      clearTimeout(timer)
      const cursor = readCursor(data)
      if (cursor === undefined) {
        close(WEBSOCKET_CLOSE_CODES.badRequest, 'the first message must be {"lastEventId": string | null}')
        return
      }
      void admit(cursor)
    })

    async function admit(lastEventId: string | null): Promise<void> {
      let stream: string | null
      try {
        stream = options.stream(request)
      } catch (error) {
        onError(error)
        close(WEBSOCKET_CLOSE_CODES.internal, 'internal')
        return
      }
      if (stream === null) {
        close(WEBSOCKET_CLOSE_CODES.notFound, 'no such stream')
        return
      }
      const resolved = resolveServeOptions<IncomingMessage>({
        stream,
        authorize: options.authorize,
        framing: options.framing,
        onError,
      })
      const admission = await admitSubscriber(hub, request, lastEventId, resolved)
      if (admission.kind === 'answer') {
        close(4000 + admission.status, reasonOf(admission))
        return
      }
      subscription = admission.subscription
      if (gone) {
        subscription.close()
        return
      }
      subscription.start(socketSink(socket))
      void subscription.ended.then((reason) => {
        if (reason === 'terminal') close(WEBSOCKET_CLOSE_CODES.normal, 'run ended')
      })
    }
  }

  server.on('connection', onConnection)
  return () => {
    server.off('connection', onConnection)
  }
}

function socketSink(socket: WebSocketConnection): SubscriberSink {
  return {
    write(chunk) {
      if (socket.readyState === OPEN) socket.send(chunk)
    },
    bufferedBytes: () => socket.bufferedAmount,
    end(error?: TaskwireError) {
      if (socket.readyState !== OPEN) return
      if (!error) socket.close(WEBSOCKET_CLOSE_CODES.normal, 'run ended')
      // A slow consumer: cut now so its queued frames are freed; it resumes from its last id.
      else if (error.code === 'slow-consumer') socket.terminate()
      else socket.close(WEBSOCKET_CLOSE_CODES.tryAgainLater, error.code)
    },
  }
}

function readCursor(data: unknown): string | null | undefined {
  const text = typeof data === 'string' ? data : data instanceof Buffer ? data.toString('utf8') : undefined
  if (text === undefined) return undefined
  try {
    const value = (JSON.parse(text) as { lastEventId?: unknown } | null)?.lastEventId
    if (value === undefined || value === null || value === '') return null
    return typeof value === 'string' ? value : undefined
  } catch {
    // Not JSON: the caller closes with 4400, which tells the client what was wrong.
    return undefined
  }
}

function reasonOf(answer: PlainAnswer): string {
  if (answer.status === 204 || answer.body === null) return ''
  try {
    const error = (JSON.parse(answer.body) as { error?: { code?: unknown; retryAfterMs?: unknown } }).error
    const reason = JSON.stringify({ code: error?.code, retryAfterMs: error?.retryAfterMs })
    // A close reason holds at most 123 bytes (RFC 6455 §5.5).
    return reason.length <= 123 ? reason : ''
  } catch {
    // The body is ours and always JSON; without it the close code alone still tells the client.
    return ''
  }
}
