import type { Catalog, DefaultCatalog, EventOf, RunState } from '../core/index.js'
import type { PlainAnswer, ServeOptions } from './admit-subscriber.js'
import { internalRefusal, passDoor, refusalAnswer, resolveServeOptions } from './admit-subscriber.js'
import { headerReaderOf } from './headers.js'
import { queryOf, readLastEventId } from './last-event-id.js'
import type { NodeRequest } from './serve-node.js'
import { toResponse } from './serve-web.js'
import type { AnyHub } from './types.js'

/** The JSON body of a poll: what happened after the client's cursor. */
export interface PollBody<C extends Catalog = DefaultCatalog> {
  /** The events after the cursor, in id order; empty when `reset` is set. */
  events: EventOf<C>[]
  /** The cursor to send as `since` next time; null while the stream has no event. */
  lastEventId: string | null
  /** True once the run reached a terminal event: stop polling. */
  ended: boolean
  /**
   * Set when the cursor fell out of the replay log: the stream's whole state, which
   * replaces the client's; `lastEventId` is the id it is folded up to.
   */
  reset?: RunState
}

/**
 * The options of {@link pollUpdates} and {@link servePoll}.
 *
 * @typeParam R - the request type, given to the `authorize` option
 */
export interface PollOptions<R> extends ServeOptions<R> {
  /**
   * The cursor; overrides what the request says.
   * @defaultValue the `since` query parameter, else `Last-Event-ID` or `lastEventId`
   */
  since?: string | null | undefined
}

/** The options of {@link servePoll}. */
export type ServePollOptions = PollOptions<Request>

/** The query parameter a poll reads the cursor from (`?since=`). */
export const SINCE_PARAM = 'since'

/**
 * Answers a polling request (`GET /api/jobs/:id/updates?since=<id>`) from any framework: the
 * request (a Node `IncomingMessage`, Express's `req`, Fastify's `request.raw`, or a Web
 * `Request`) goes through the hub's `authorize` policy for the `poll` door and then the
 * `authorize` option, exactly as a stream request does, so a poll route cannot skip
 * authorization. The answer is data the route sends as it is: 200 with {@link PollBody} as
 * JSON, 400 for an empty stream name, 401/403/404 refused, or 500 when the broker failed
 * (reported through `onError`), each with `Cache-Control: no-store`.
 *
 * @param hub - the hub
 * @param request - the request; its URL gives `since`, its headers go to `authorize`
 * @param options - the stream, and optional `since`, `authorize`, `headers`, `onError`
 * @returns the answer to send (it never rejects)
 * @example
 * ```ts
 * app.get('/api/jobs/:id/updates', async (req, res) => {
 *   const answer = await pollUpdates(hub, req, { stream: req.params.id })
 *   res.status(answer.status).set(answer.headers).send(answer.body)
 * })
 * ```
 */
export async function pollUpdates<R extends NodeRequest | Request>(
  hub: AnyHub,
  request: R,
  options: PollOptions<R>,
): Promise<PlainAnswer> {
  const resolved = resolveServeOptions<R>(options)
  const passed = await passDoor(hub, { door: 'poll', request, headers: headerReaderOf(request) }, resolved)
  if (!passed.ok) return refusalAnswer(passed.refusal, resolved.headers)
  const url = request.url ?? ''
  const since =
    options.since !== undefined
      ? options.since
      : queryOf(url).get(SINCE_PARAM) || readLastEventId(headerReaderOf(request).get('last-event-id'), url)
  let body: PollBody<Catalog>
  try {
    body = await readPoll(hub, resolved.stream, since)
  } catch (error) {
    resolved.onError(error)
    return refusalAnswer(
      internalRefusal('The server could not read the stream; poll again later.'),
      resolved.headers,
    )
  }
  return {
    status: 200,
    headers: {
      ...resolved.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
    },
    body: JSON.stringify(body),
  }
}

/**
 * Answers a polling request with a Web `Response`, for clients where neither SSE nor
 * WebSocket gets through: {@link pollUpdates} rendered for `Request`/`Response` runtimes
 * (Hono, Next.js, Bun, Deno, workers).
 *
 * @param hub - the hub
 * @param request - the request
 * @param options - the stream, and optional `since`, `authorize`, `headers`, `onError`
 * @returns the response (it never rejects: a broker failure is answered with 500 and passed
 *   to `onError`)
 * @example
 * ```ts
 * app.get('/api/jobs/:id/updates', (c) => servePoll(hub, c.req.raw, { stream: c.req.param('id') }))
 * ```
 */
export async function servePoll(hub: AnyHub, request: Request, options: ServePollOptions): Promise<Response> {
  return toResponse(await pollUpdates(hub, request, options))
}

/** What happened on a stream after a cursor, for an admitted poll. */
async function readPoll(hub: AnyHub, stream: string, since: string | null): Promise<PollBody<Catalog>> {
  const read = await hub.read(stream, since)
  if (read.expired) {
    // Retained events alone would skip what fell out of the log; the folded state cannot.
    const state = await hub.snapshot(stream)
    return { events: [], lastEventId: state.lastEventId ?? null, ended: read.ended, reset: state }
  }
  const last = read.events.at(-1)
  return { events: read.events, lastEventId: last ? last.id : since, ended: read.ended }
}
