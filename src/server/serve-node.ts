import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { TaskwireError } from '../core/index.js'
import type { PlainAnswer, ServeStreamOptions } from './admit-subscriber.js'
import { admissionAnswer, admitSubscriber, jsonAnswer, resolveServeOptions } from './admit-subscriber.js'
import { headerReaderOf, sseHeadersFor } from './headers.js'
import type { AnyHub, SubscriberSink, Subscription, SubscriptionEndReason } from './types.js'

/** A Node request: node:http's, Express's `req`, Fastify's `request.raw`, or HTTP/2's. */
export type NodeRequest = IncomingMessage | Http2ServerRequest

/** A Node response: node:http's, Express's `res`, Fastify's `reply.raw`, or HTTP/2's. */
export type NodeResponse = ServerResponse | Http2ServerResponse

/** The options of {@link serveNode}. */
export type ServeNodeOptions = ServeStreamOptions<NodeRequest>

/** How a served request ended, for logs and tests. */
export interface ServeResult {
  /**
   * The status answered (or decided, when the client left first): 200 for a stream, else
   * 204, 400, 401, 403, 404, 500 or 503.
   */
  status: number
  /** Why the stream ended, when one was served. */
  reason: SubscriptionEndReason | undefined
}

/**
 * Serves a hub stream as SSE on a Node response. In order: the stream name (400 when empty),
 * the hub's `authorize` policy for the `stream` door and then the `authorize` option
 * (401/403/404 as JSON, before any stream byte), the hub's admission under the caller's key
 * (503 with `Retry-After` at a limit, `maxConnectionsPerKey` included; 204 when the stream
 * has ended and nothing follows the client's cursor), then a 200 with the SSE
 * headers, `retry:`, the replay or snapshot, and live frames until the run ends or the client
 * leaves. The cursor comes from `Last-Event-ID` or the `lastEventId` query parameter; the
 * framing from the `framing` option, else the `framing` query parameter (400 when it is
 * neither `named` nor `data-only`).
 *
 * Works with node:http (HTTP/1.1 and the HTTP/2 compatibility API), Express (`req`, `res`)
 * and Fastify (`request.raw`, `reply.raw`, after `reply.hijack()`).
 *
 * @param hub - the hub to read from
 * @param req - the request
 * @param res - its response, untouched so far
 * @param options - the stream, and optional `authorize`, `framing`, `headers`, `onError`
 * @returns a promise that settles once the response is closed (it never rejects: unexpected
 *   errors are answered with 500 and passed to `onError`)
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { createHub, serveNode } from 'taskwire/server'
 *
 * const hub = createHub()
 * createServer((req, res) => {
 *   const match = /^\/api\/jobs\/([^/?]+)\/events/.exec(req.url ?? '')
 *   if (match?.[1]) void serveNode(hub, req, res, { stream: match[1] })
 *   else res.writeHead(404).end()
 * }).listen(3000)
 * ```
 */
export async function serveNode(
  hub: AnyHub,
  req: NodeRequest,
  res: NodeResponse,
  options: ServeNodeOptions,
): Promise<ServeResult> {
  const resolved = resolveServeOptions(options)
  // Listen first: the client may leave while `authorize` or the broker is still answering,
  // and a 'close' missed then would leak the subscription's slot.
  let subscription: Subscription | undefined
  let gone = isClosed(res)
  const closed = new Promise<void>((resolve) => {
    if (gone) return resolve()
    // `on`, not `once`: a response closes once, and once's wrapper would be kept per stream.
    res.on('close', () => {
      gone = true
      subscription?.close()
      resolve()
    })
  })

  const admission = await admitSubscriber(
    hub,
    { door: 'stream', request: req, headers: headerReaderOf(req) },
    req.url ?? '',
    resolved,
  )
  if (admission.kind !== 'stream') {
    const answer = admissionAnswer(admission, resolved.headers)
    const status = gone ? answer.status : sendAnswer(res, answer, resolved.onError)
    await closed
    return { status, reason: undefined }
  }

  subscription = admission.subscription
  if (gone) {
    subscription.close()
    return { status: 200, reason: await subscription.ended }
  }
  try {
    res.writeHead(200, { ...sseHeadersFor(req.httpVersionMajor), ...resolved.headers })
    // Sends the status line and headers now, so clients see `open` before the first event.
    if ('flushHeaders' in res) res.flushHeaders()
  } catch (error) {
    // Headers someone already sent, or an invalid value in `headers`: no stream can start.
    subscription.close()
    const status = failResponse(res, error, resolved.onError)
    await closed
    return { status, reason: await subscription.ended }
  }
  subscription.start(nodeSink(res))
  // Returned rather than awaited: this function's frame is let go for the stream's lifetime,
  // and only what the close listener holds stays (a connection's memory is the hub's budget).
  return Promise.all([subscription.ended, closed]).then(([reason]) => ({ status: 200, reason }))
}

function nodeSink(res: NodeResponse): SubscriberSink {
  return new NodeSink(res)
}

/**
 * Writes a subscription to a Node response. A class rather than an object of closures: one
 * is kept per open connection, and prototype methods cost it nothing.
 */
class NodeSink implements SubscriberSink {
  readonly #res: NodeResponse
  /** `compression` (Express) buffers until it fills a block; its `flush()` pushes each frame. */
  readonly #flush: (() => void) | undefined
  constructor(res: NodeResponse) {
    this.#res = res
    const flush = (res as { flush?: unknown }).flush
    // Looked up once per connection, not on every write.
    this.#flush = typeof flush === 'function' ? (flush as () => void).bind(res) : undefined
  }

  write(chunk: string): void {
    const res = this.#res
    if (isClosed(res))
      return // Both response types take a string; TypeScript cannot pick an overload on the union.
    ;(res as ServerResponse).write(chunk)
    this.#flush?.()
  }

  bufferedBytes(): number {
    const res = this.#res
    // OutgoingMessage counts its own buffer plus the socket's; an HTTP/2 response buffers
    // in its stream.
    return 'stream' in res ? res.stream.writableLength : res.writableLength
  }

  deliveredBytes(): number | undefined {
    const res = this.#res
    // HTTP/1.1: what reached the socket, its own buffer included, so a slow client is not
    // mistaken for a held response. HTTP/2 streams share a session socket and flow control.
    return 'stream' in res ? undefined : res.socket?.bytesWritten
  }

  end(error?: TaskwireError): void {
    const res = this.#res
    if (isClosed(res)) return
    // A slow consumer or a closing hub: drop what is queued and cut the connection, so
    // memory is freed now; the client resumes from its last id.
    if (error) res.destroy()
    else res.end()
  }
}

/** Sends a plain answer; returns the status actually sent. */
function sendAnswer(res: NodeResponse, answer: PlainAnswer, onError: (error: unknown) => void): number {
  try {
    res.writeHead(answer.status, answer.headers)
  } catch (error) {
    return failResponse(res, error, onError)
  }
  if (answer.body === null) res.end()
  else res.end(answer.body)
  return answer.status
}

/** Reports an error that kept the adapter from answering, and answers 500 if it still can. */
function failResponse(res: NodeResponse, error: unknown, onError: (error: unknown) => void): number {
  onError(error)
  if (res.headersSent) {
    res.destroy()
    return 500
  }
  const answer = jsonAnswer(500, 'internal', 'The server could not open the stream; try again later.', {})
  res.writeHead(answer.status, answer.headers)
  res.end(answer.body ?? '')
  return answer.status
}

function isClosed(res: NodeResponse): boolean {
  return res.destroyed || res.writableEnded
}
