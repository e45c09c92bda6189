import type { Catalog, DefaultCatalog, EventOf, RunState } from '../core/index.js'
import type { ServeOptions } from './admit-subscriber.js'
import { authorizeRequest, jsonAnswer, resolveServeOptions } from './admit-subscriber.js'
import { queryOf, readLastEventId } from './last-event-id.js'
import { toResponse } from './serve-web.js'
import type { Hub } from './types.js'

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

/** The options of {@link servePoll}. */
export interface ServePollOptions extends ServeOptions<Request> {
  /**
   * The cursor; overrides what the request says.
   * @defaultValue the `since` query parameter, else `Last-Event-ID` or `lastEventId`
   */
  since?: string | null | undefined
}

/** The query parameter {@link servePoll} reads the cursor from (card 2's `?since=`). */
export const SINCE_PARAM = 'since'

/**
 * Reads what happened on a stream after a cursor, as the JSON body of a polling response.
 * This is all a Node framework needs for a polling route: `res.json(await pollUpdates(...))`.
 *
 * @param hub - the hub
 * @param stream - the stream
 * @param since - the last id the client has, or null for the whole retained log
 * @returns the events after `since`, the next cursor, whether the run ended, and a `reset`
 *   state when `since` fell out of the replay log
 * @throws {@link taskwire!TaskwireError} `broker` when the broker cannot be read
 * @example
 * ```ts
 * app.get('/api/jobs/:id/updates', async (req, res) => {
 *   const since = typeof req.query.since === 'string' ? req.query.since : null
 *   res.set('Cache-Control', 'no-store').json(await pollUpdates(hub, req.params.id, since))
 * })
 * ```
 */
export async function pollUpdates<C extends Catalog>(
  hub: Hub<C>,
  stream: string,
  since: string | null,
): Promise<PollBody<C>> {
  const read = await hub.read(stream, since)
  if (read.expired) {
    // Retained events alone would skip what fell out of the log; the folded state cannot.
    const state = await hub.snapshot(stream)
    return { events: [], lastEventId: state.lastEventId ?? null, ended: read.ended, reset: state }
  }
  const last = read.events.at(-1)
  return { events: read.events, lastEventId: last ? last.id : since, ended: read.ended }
}

/**
 * Answers a polling request (card 2's fallback, `GET /api/jobs/:id/updates?since=<id>`) with
 * a Web `Response` holding {@link PollBody} as JSON, for clients where neither SSE nor
 * WebSocket gets through. `authorize` answers 401/403/404 as `serveWeb` does.
 *
 * From Node frameworks, use {@link pollUpdates} and the framework's own JSON reply: a poll
 * is one JSON body, which every framework already knows how to send, so a Node-specific
 * twin of this function would add API without adding behaviour.
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
export async function servePoll<C extends Catalog>(
  hub: Hub<C>,
  request: Request,
  options: ServePollOptions,
): Promise<Response> {
  const resolved = resolveServeOptions<Request>(options)
  const denied = await authorizeRequest(request, resolved)
  if (denied) return toResponse(denied)
  const since =
    options.since !== undefined
      ? options.since
      : queryOf(request.url).get(SINCE_PARAM) ||
        readLastEventId(request.headers.get('last-event-id'), request.url)
  let body: PollBody<C>
  try {
    body = await pollUpdates(hub, resolved.stream, since)
  } catch (error) {
    resolved.onError(error)
    return toResponse(
      jsonAnswer(
        500,
        'internal',
        'The server could not read the stream; poll again later.',
        resolved.headers,
      ),
    )
  }
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: {
      ...resolved.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
    },
  })
}
