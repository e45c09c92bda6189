import type { IncomingMessage } from 'node:http'
import { TaskwireError } from '../core/index.js'
import {
  type Admission,
  type Authorize,
  type DoorRefusal,
  passDoor,
  refusalOf,
  subscribeAdmitted,
} from './admit-subscriber.js'
import { headerReaderOf } from './headers.js'
import type { AnyHub, Reservation, SubscriberSink, Subscription } from './types.js'

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
   * The options the server was created with; `ws` keeps them here. The adapter reads
   * `maxPayload` to refuse a server that would buffer huge messages from unauthenticated
   * sockets.
   */
  readonly options?:
    | {
        /** The largest message `ws` accepts, in bytes; 0 means no limit. */
        readonly maxPayload?: number | undefined
      }
    | undefined
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
   * Checked on the upgrade request after the hub's `authorize` policy (door `websocket`)
   * admitted it, as for the HTTP adapters; both must admit. A refusal closes with 4000 + its
   * status (4401, 4403, 4404) as soon as the socket opens.
   * @defaultValue admits every connection the hub's policy admits
   */
  authorize?: Authorize<IncomingMessage> | undefined
  /**
   * How frames name their event.
   * @defaultValue the hub's `framing`
   */
  framing?: 'named' | 'data-only' | undefined
  /**
   * How long a new socket may take to send its first message (`{"lastEventId": ...}`)
   * before it is closed with 4408. The socket holds a connection slot meanwhile.
   * @defaultValue `10000`
   */
  firstMessageTimeoutMs?: number | undefined
  /**
   * Largest first message accepted, in bytes; a larger one closes the socket with 1009.
   * `{"lastEventId": "<id>"}` takes a few dozen bytes. The `WebSocketServer`'s own
   * `maxPayload` bounds what `ws` buffers before the adapter sees a message: keep it small.
   * @defaultValue `1024`
   */
  maxFirstMessageBytes?: number | undefined
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
  /** A cursor message takes a few dozen bytes. */
  maxFirstMessageBytes: 1024,
})

/**
 * The largest `maxPayload` a `WebSocketServer` given to {@link attachWebSocket} may have, in
 * bytes. `ws` buffers a whole message before any handler sees it, so a server left at its
 * default (100 MiB) lets every unauthenticated socket hold that much memory.
 */
export const MAX_WEBSOCKET_PAYLOAD_BYTES = 65_536

/**
 * The close codes {@link attachWebSocket} uses. A WebSocket has no status line, so the HTTP
 * status a stream request would have received is sent as 4000 + status, which the client
 * maps back through the same rules as on HTTP.
 */
export const WEBSOCKET_CLOSE_CODES = Object.freeze({
  /** The run ended (terminal event written), or the client asked to close. */
  normal: 1000,
  /** The first message is larger than `maxFirstMessageBytes` (or the server's `maxPayload`). */
  tooLarge: 1009,
  /** The hub shut down, or ended the subscription (`hub.disconnect`): reconnect. */
  tryAgainLater: 1013,
  /** The first message was not `{"lastEventId": string | null}`, or the stream name is invalid. */
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
 * authorization as the HTTP adapters. As soon as a socket opens, its upgrade request goes
 * through the hub's `authorize` policy (door `websocket`) and the `authorize` option, and an
 * admitted socket takes a connection slot (`hub.reserve`) under the caller's key: a refused
 * socket is closed before anything is read from it, and sockets still waiting for their
 * first message count against `maxConnections` and `maxConnectionsPerKey` (4503 past them).
 * The client's first message is JSON `{"lastEventId": "42"}` (or `null`), at most
 * `maxFirstMessageBytes`; every server message is SSE text, byte for byte what an HTTP
 * subscriber receives. See {@link WEBSOCKET_CLOSE_CODES} for how it ends.
 *
 * Create the `WebSocketServer` with a small `maxPayload` (4096 is plenty): `ws` buffers a
 * whole message before the adapter sees it.
 *
 * @param hub - the hub to read from
 * @param server - a `ws` `WebSocketServer` (with `noServer` or its own port)
 * @param options - how to pick the stream, and optional `authorize`, `framing`,
 *   `firstMessageTimeoutMs`, `maxFirstMessageBytes`, `onError`
 * @returns a function that stops accepting connections (open ones continue until they end)
 * @throws {@link taskwire!TaskwireError} `invalid-option` when the server's `maxPayload` is
 *   unlimited or above {@link MAX_WEBSOCKET_PAYLOAD_BYTES}, or an option is out of range
 * @example
 * ```ts
 * import { WebSocketServer } from 'ws'
 * import { attachWebSocket, createHub } from 'taskwire/server'
 *
 * const hub = createHub()
 * const wss = new WebSocketServer({ server: httpServer, path: '/ws', maxPayload: 4096 })
 * attachWebSocket(hub, wss, { stream: (request) => new URL(request.url ?? '', 'http://x').searchParams.get('run') })
 * ```
 */
export function attachWebSocket(
  hub: AnyHub,
  server: WebSocketServerLike,
  options: AttachWebSocketOptions,
): () => void {
  const onError = options.onError ?? ((error: unknown) => console.error(error))
  const firstMessageTimeoutMs =
    options.firstMessageTimeoutMs ?? DEFAULT_ATTACH_WEBSOCKET_OPTIONS.firstMessageTimeoutMs
  const maxFirstMessageBytes =
    options.maxFirstMessageBytes ?? DEFAULT_ATTACH_WEBSOCKET_OPTIONS.maxFirstMessageBytes
  checkOptions(server, firstMessageTimeoutMs, maxFirstMessageBytes)

  const onConnection = (socket: WebSocketConnection, request: IncomingMessage): void => {
    let stream: string | undefined
    let key: string | undefined
    let reservation: Reservation | undefined
    let subscription: Subscription | undefined
    /** The cursor of a first message that came while the socket was being authorized. */
    let cursor: { value: string | null } | undefined
    /** Closed, or being closed: nothing more may be reserved or started for it. */
    let gone = false
    let received = false
    const timer = setTimeout(
      () => close(WEBSOCKET_CLOSE_CODES.timeout, 'send {"lastEventId"} first'),
      firstMessageTimeoutMs,
    )
    const close = (code: number, reason: string): void => {
      clearTimeout(timer)
      // A pending socket's slot is free as soon as it is refused, not once the client
      // answers the closing handshake.
      reservation?.release()
      const open = !gone && socket.readyState === OPEN
      gone = true
      if (open) socket.close(code, reason)
    }
    const refuse = (refusal: DoorRefusal): void => close(4000 + refusal.status, reasonOf(refusal))

    socket.on('close', () => {
      gone = true
      clearTimeout(timer)
      reservation?.release()
      subscription?.close()
    })
    // A client that vanishes surfaces as an error and then a close; the close does the work.
    socket.on('error', () => {})
    socket.on('message', (data: unknown) => {
      if (received) return
      received = true
      clearTimeout(timer)
      if (byteLengthOf(data) > maxFirstMessageBytes) {
        close(
          WEBSOCKET_CLOSE_CODES.tooLarge,
          `the first message must be at most ${maxFirstMessageBytes} bytes`,
        )
        return
      }
      const value = readCursor(data)
      if (value === undefined) {
        close(WEBSOCKET_CLOSE_CODES.badRequest, 'the first message must be {"lastEventId": string | null}')
        return
      }
      cursor = { value }
      if (reservation) void subscribe()
    })

    void authorize()

    /** Runs at connection time, before any message is read. */
    async function authorize(): Promise<void> {
      let picked: string | null
      try {
        picked = options.stream(request)
      } catch (error) {
        onError(error)
        close(WEBSOCKET_CLOSE_CODES.internal, 'internal')
        return
      }
      if (picked === null) {
        close(WEBSOCKET_CLOSE_CODES.notFound, 'no such stream')
        return
      }
      const passed = await passDoor(
        hub,
        { door: 'websocket', request, headers: headerReaderOf(request) },
        {
          stream: picked,
          authorize: options.authorize ?? (() => true),
          onError,
        },
      )
      if (gone) return
      if (!passed.ok) {
        refuse(passed.refusal)
        return
      }
      try {
        reservation = hub.reserve({ key: passed.key })
      } catch (error) {
        const refusal = refusalOf(error)
        if (refusal) refuse(refusal)
        else {
          onError(error)
          close(WEBSOCKET_CLOSE_CODES.internal, 'internal')
        }
        return
      }
      stream = picked
      key = passed.key
      if (cursor) await subscribe()
    }

    /** Runs once the socket is authorized, holds a slot and has sent its cursor. */
    async function subscribe(): Promise<void> {
      if (stream === undefined || cursor === undefined) return
      const admission: Admission = await subscribeAdmitted(
        hub,
        stream,
        { lastEventId: cursor.value, framing: options.framing, key, reservation },
        onError,
      )
      if (admission.kind === 'ended') {
        close(WEBSOCKET_CLOSE_CODES.ended, '')
        return
      }
      if (admission.kind === 'refused') {
        refuse(admission.refusal)
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

function checkOptions(server: WebSocketServerLike, timeoutMs: number, maxFirstMessageBytes: number): void {
  const maxPayload = server.options?.maxPayload
  // ws reads 0 as "no limit".
  if (maxPayload !== undefined && (!(maxPayload > 0) || maxPayload > MAX_WEBSOCKET_PAYLOAD_BYTES)) {
    throw new TaskwireError(
      'invalid-option',
      `The WebSocketServer buffers messages of up to ${maxPayload === 0 ? 'any size' : `${maxPayload} bytes`} before taskwire can refuse them; create it with a small maxPayload, such as new WebSocketServer({ ..., maxPayload: 4096 }) (at most ${MAX_WEBSOCKET_PAYLOAD_BYTES}).`,
    )
  }
  if (!(Number.isSafeInteger(maxFirstMessageBytes) && maxFirstMessageBytes > 0)) {
    throw new TaskwireError(
      'invalid-option',
      `maxFirstMessageBytes must be a positive whole number of bytes, got ${String(maxFirstMessageBytes)}.`,
    )
  }
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new TaskwireError(
      'invalid-option',
      `firstMessageTimeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}.`,
    )
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

/** The size of a message as `ws` hands it over: a Buffer, an ArrayBuffer or Buffer fragments. */
function byteLengthOf(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data)
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength
  if (Array.isArray(data)) return data.reduce((total: number, part: unknown) => total + byteLengthOf(part), 0)
  return 0
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

/** The close reason of a refusal: its code and `retryAfterMs`, as JSON the client reads. */
function reasonOf(refusal: DoorRefusal): string {
  const reason = JSON.stringify({ code: refusal.code, retryAfterMs: refusal.retryAfterMs })
  // A close reason holds at most 123 bytes (RFC 6455 §5.5).
  return reason.length <= 123 ? reason : ''
}
