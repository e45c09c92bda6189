import type { ServeOptions } from './admit-subscriber.js'
import { internalRefusal, passDoor, refusalAnswer, resolveServeOptions } from './admit-subscriber.js'
import { headerReaderOf } from './headers.js'
import { toResponse } from './serve-web.js'
import type { AnyHub } from './types.js'

/** The options of {@link serveSnapshot}. */
export type ServeSnapshotOptions = ServeOptions<Request>

/**
 * Answers a request for a stream's current state (`GET /api/jobs/:id/state`) with the folded
 * `RunState` as JSON, after the hub's `authorize` policy for the `snapshot` door and the
 * `authorize` option admitted it: a page rendered on the server, or a client that only wants
 * the state now, reads it through the same door rules as a stream. Answers 400 for an empty
 * stream name, 401/403/404 when refused, 500 when the broker failed (reported through
 * `onError`), each with `Cache-Control: no-store`.
 *
 * @param hub - the hub
 * @param request - the request
 * @param options - the stream, and optional `authorize`, `headers`, `onError`
 * @returns the response (it never rejects)
 * @example
 * ```ts
 * app.get('/api/jobs/:id/state', (c) => serveSnapshot(hub, c.req.raw, { stream: c.req.param('id') }))
 * ```
 */
export async function serveSnapshot(
  hub: AnyHub,
  request: Request,
  options: ServeSnapshotOptions,
): Promise<Response> {
  const resolved = resolveServeOptions<Request>(options)
  const passed = await passDoor(
    hub,
    { door: 'snapshot', request, headers: headerReaderOf(request) },
    resolved,
  )
  if (!passed.ok) return toResponse(refusalAnswer(passed.refusal, resolved.headers))
  let body: string
  try {
    body = JSON.stringify(await hub.snapshot(resolved.stream))
  } catch (error) {
    resolved.onError(error)
    return toResponse(
      refusalAnswer(
        internalRefusal('The server could not read the stream; try again later.'),
        resolved.headers,
      ),
    )
  }
  return toResponse({
    status: 200,
    headers: {
      ...resolved.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
    },
    body,
  })
}
