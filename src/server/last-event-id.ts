/** The query parameter that carries the cursor when a header cannot (see {@link readLastEventId}). */
export const LAST_EVENT_ID_PARAM = 'lastEventId'

/**
 * Reads the cursor a client resumes from: the `Last-Event-ID` request header, or else the
 * `lastEventId` query parameter.
 *
 * The header wins because a browser `EventSource` reconnects to the same URL with the header
 * set to the newest id it has seen (WHATWG HTML §9.2.3, "reestablish the connection"): a
 * `lastEventId` put in the URL by the first connection is older by then. The query parameter
 * serves clients that cannot set headers on their first request and proxies that strip
 * unknown headers. An empty value means "no cursor", as the spec sends none in that case.
 *
 * @param header - the `Last-Event-ID` header value (`req.headers['last-event-id']` in Node,
 *   `request.headers.get('last-event-id')` on the Web)
 * @param url - the request URL, absolute or a path with its query (`req.url` in Node)
 * @returns the id to resume after, or null to start from the beginning
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#the-last-event-id-header
 * @example
 * ```ts
 * readLastEventId(request.headers.get('last-event-id'), request.url) // '42' or null
 * ```
 */
export function readLastEventId(header: string | null | undefined, url: string | URL): string | null {
  if (header !== null && header !== undefined && header !== '') return header
  const query = queryOf(url)
  const param = query.get(LAST_EVENT_ID_PARAM)
  return param === null || param === '' ? null : param
}

/**
 * The query parameters of a URL or of a bare path such as Node's `req.url`, which has no
 * origin to resolve against.
 *
 * @param url - an absolute URL or a path with its query
 * @returns the query parameters
 */
export function queryOf(url: string | URL): URLSearchParams {
  if (typeof url !== 'string') return url.searchParams
  const start = url.indexOf('?')
  if (start === -1) return new URLSearchParams()
  const hash = url.indexOf('#', start)
  return new URLSearchParams(hash === -1 ? url.slice(start + 1) : url.slice(start + 1, hash))
}
