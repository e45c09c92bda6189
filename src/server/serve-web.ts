import type { PlainAnswer, ServeStreamOptions } from './admit-subscriber.js'
import { admissionAnswer, admitSubscriber, jsonAnswer, resolveServeOptions } from './admit-subscriber.js'
import { headerReaderOf, sseHeadersFor } from './headers.js'
import type { AnyHub, SubscriberSink, Subscription } from './types.js'

/** The options of {@link serveWeb}. */
export type ServeWebOptions = ServeStreamOptions<Request>

/**
 * Serves a hub stream as SSE in a Web `Response`, for any runtime with the Fetch API:
 * Next.js route handlers, Hono (`c.req.raw`), Bun, Deno, Cloudflare Workers (where a live
 * stream needs its hub in a Durable Object: a publish made while handling another request
 * does not reach it). Answers like
 * `serveNode`: 400 for an empty stream name or a `framing` query parameter that is neither
 * `named` nor `data-only`, 401/403/404 from the hub's `authorize` policy
 * (door `stream`) or the `authorize` option, 503 with `Retry-After` at a limit (the caller's
 * `maxConnectionsPerKey` included), 204 for an ended stream, else a 200 whose body streams
 * `retry:`, the replay or snapshot and live frames. The subscription ends when `request.signal` aborts or the body is cancelled.
 *
 * `Connection: keep-alive` is left out: the runtime owns the connection, and HTTP/2 and
 * HTTP/3 forbid the header (RFC 9113 §8.2.2).
 *
 * @param hub - the hub to read from
 * @param request - the request
 * @param options - the stream, and optional `authorize`, `framing`, `headers`, `onError`
 * @returns the response to return from the handler (it never rejects: unexpected errors
 *   are answered with 500 and passed to `onError`)
 * @example
 * ```ts
 * // app/api/workflows/[id]/events/route.ts (Next.js)
 * import { serveWeb } from 'taskwire/server'
 * import { hub } from '@/lib/hub'
 *
 * export const dynamic = 'force-dynamic'
 * export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
 *   return serveWeb(hub, request, { stream: (await params).id })
 * }
 * ```
 */
export async function serveWeb(hub: AnyHub, request: Request, options: ServeWebOptions): Promise<Response> {
  const resolved = resolveServeOptions(options)
  const admission = await admitSubscriber(
    hub,
    { door: 'stream', request, headers: headerReaderOf(request) },
    request.url,
    resolved,
  )
  if (admission.kind !== 'stream') {
    return respond(() => toResponse(admissionAnswer(admission, resolved.headers)), resolved.onError)
  }
  const subscription = admission.subscription
  return respond(
    () => {
      // Headers first: an invalid value in `headers` throws before the subscription starts.
      const headers = new Headers({ ...sseHeadersFor(2), ...resolved.headers })
      return new Response(subscriptionBody(subscription, request.signal), { status: 200, headers })
    },
    (error) => {
      subscription.close()
      resolved.onError(error)
    },
  )
}

/** Builds a response; when that throws (an invalid header value), reports it and answers 500. */
function respond(build: () => Response, onError: (error: unknown) => void): Response {
  try {
    return build()
  } catch (error) {
    onError(error)
    return toResponse(
      jsonAnswer(500, 'internal', 'The server could not open the stream; try again later.', {}),
    )
  }
}

/**
 * Builds a plain `Response` from an admission answer.
 *
 * @param answer - the status, headers and body
 * @returns the response
 */
export function toResponse(answer: PlainAnswer): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers })
}

function subscriptionBody(subscription: Subscription, signal: AbortSignal): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  let done = false
  let onAbort: (() => void) | undefined
  const finish = (): void => {
    done = true
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const sink: SubscriberSink = {
          write(chunk) {
            if (!done) controller.enqueue(encoder.encode(chunk))
          },
          bufferedBytes() {
            // With a high-water mark of 0 and chunks sized in bytes, -desiredSize is exactly
            // the bytes enqueued that the runtime has not pulled to the network yet.
            return Math.max(0, -(controller.desiredSize ?? 0))
          },
          end(error) {
            if (done) return
            finish()
            // Erroring the stream drops the queued chunks and makes the runtime abort the
            // response, as a slow consumer or a closing hub requires; closing flushes them.
            if (error) controller.error(error)
            else controller.close()
          },
        }
        onAbort = () => {
          subscription.close()
          if (done) return
          finish()
          controller.close()
        }
        if (signal.aborted) return onAbort()
        signal.addEventListener('abort', onAbort, { once: true })
        // A hub that ends the subscription without ending the sink must still end the body.
        void subscription.ended.then(() => {
          if (done) return
          finish()
          controller.close()
        })
        subscription.start(sink)
      },
      cancel() {
        finish()
        subscription.close()
      },
    },
    { highWaterMark: 0, size: (chunk) => chunk.byteLength },
  )
}
