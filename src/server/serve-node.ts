import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { TaskwireError } from '../core/index.js'
import type { PlainAnswer, ServeStreamOptions } from './admit-subscriber.js'
import { admissionAnswer, admitSubscriber, jsonAnswer, resolveServeOptions } from './admit-subscriber.js'
import { headerReaderOf, sseHeadersFor } from './headers.js'
import { type EndWatcher, watchEnd } from './subscription.js'
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
export function serveNode(
  hub: AnyHub,
  req: NodeRequest,
  res: NodeResponse,
  options: ServeNodeOptions,
): Promise<ServeResult> {
  // The caller's promise is settled by the connection itself rather than by a chain of
  // promises that would live as long as the stream: a connection's memory is the hub's budget.
  return new Promise((resolve, reject) => {
    serve(hub, req, res, options, resolve).catch(reject)
  })
}

async function serve(
  hub: AnyHub,
  req: NodeRequest,
  res: NodeResponse,
  options: ServeNodeOptions,
  settle: (result: ServeResult) => void,
): Promise<void> {
  const resolved = resolveServeOptions(options)
  // Listen first: the client may leave while `authorize` or the broker is still answering,
  // and a 'close' missed then would leak the subscription's slot.
  const sink = new NodeSink(res)

  const admission = await admitSubscriber(
    hub,
    { door: 'stream', request: req, headers: headerReaderOf(req) },
    req.url ?? '',
    resolved,
  )
  if (admission.kind !== 'stream') {
    const answer = admissionAnswer(admission, resolved.headers)
    const status = sink.gone ? answer.status : sendAnswer(res, answer, resolved.onError)
    await sink.closed()
    return settle({ status, reason: undefined })
  }

  const subscription = admission.subscription
  sink.subscription = subscription
  if (sink.gone) {
    subscription.close()
    return settle({ status: 200, reason: await subscription.ended })
  }
  try {
    res.writeHead(200, { ...sseHeadersFor(req.httpVersionMajor), ...resolved.headers })
    // Sends the status line and headers now, so clients see `open` before the first event.
    if ('flushHeaders' in res) res.flushHeaders()
  } catch (error) {
    // Headers someone already sent, or an invalid value in `headers`: no stream can start.
    subscription.close()
    const status = failResponse(res, error, resolved.onError)
    await sink.closed()
    return settle({ status, reason: await subscription.ended })
  }
  subscription.start(sink)
  sink.settleWhenServed(subscription, settle)
}

/** Calls `sink.responseClosed()` on the response's `close`: a listener that holds the sink only. */
function listenForClose(res: NodeResponse, sink: NodeSink): void {
  // `on`, not `once`: a response closes once, and once's wrapper would be kept per stream.
  res.on('close', () => sink.responseClosed())
}

/**
 * One connection of `serveNode`: the sink the hub writes to, and what settles the caller's
 * promise once the subscription has ended and the response has closed. A class rather than
 * an object of closures: one is kept per open connection, and prototype methods cost it
 * nothing.
 */
class NodeSink implements SubscriberSink, EndWatcher {
  readonly #res: NodeResponse
  /** `compression` (Express) buffers until it fills a block; its `flush()` pushes each frame. */
  readonly #flush: (() => void) | undefined
  /** True once the response has closed (the client left, or it ended). */
  gone: boolean
  /** The subscription served, once admitted: closed when the client leaves. */
  subscription: Subscription | undefined
  #reason: SubscriptionEndReason | undefined
  #settle: ((result: ServeResult) => void) | undefined
  #closed: (() => void) | undefined

  constructor(res: NodeResponse) {
    this.#res = res
    const flush = (res as { flush?: unknown }).flush
    // Looked up once per connection, not on every write.
    this.#flush = typeof flush === 'function' ? (flush as () => void).bind(res) : undefined
    this.gone = isClosed(res)
    if (!this.gone) listenForClose(res, this)
  }

  responseClosed(): void {
    this.gone = true
    this.subscription?.close()
    this.#closed?.()
    this.#done()
  }

  /** Resolves once the response has closed. */
  closed(): Promise<void> {
    return this.gone
      ? Promise.resolve()
      : new Promise((resolve) => {
          this.#closed = resolve
        })
  }

  /** Settles with 200 and the subscription's end reason once it has ended and the response closed. */
  settleWhenServed(subscription: Subscription, settle: (result: ServeResult) => void): void {
    this.#settle = settle
    watchEnd(subscription, this)
  }

  subscriptionEnded(reason: SubscriptionEndReason): void {
    this.#reason = reason
    this.#done()
  }

  #done(): void {
    const reason = this.#reason
    if (!this.gone || reason === undefined || this.#settle === undefined) return
    const settle = this.#settle
    this.#settle = undefined
    settle({ status: 200, reason })
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
