/** The query parameter that carries the cursor when a header cannot (see {@link readLastEventId}). */
export const LAST_EVENT_ID_PARAM = 'lastEventId'

/**
 * Reads the cursor a client resumes from: the `Last-Event-ID` request header, or else the
 * `lastEventId` query parameter.
 *
 * The header carries the UTF-8 bytes of the id (WHATWG HTML §9.2.3: `EventSource` sends it
 * UTF-8 encoded), which node:http and Web `Headers` hand over as latin-1 text, one character
 * per byte; a value that is valid UTF-8 read as bytes is decoded back to the id, and any
 * other is taken as it is. The query parameter is percent-decoded as UTF-8.
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
  if (header !== null && header !== undefined && header !== '') return decodeHeaderBytes(header)
  const query = queryOf(url)
  const param = query.get(LAST_EVENT_ID_PARAM)
  return param === null || param === '' ? null : param
}

// Leaves a BOM at the start of an id alone: it is part of the id, not a byte order mark.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Reads a header value as the bytes it arrived as (one latin-1 character each) and decodes
 * them as UTF-8.
 *
 * @param value - the header value as the runtime gave it
 * @returns the decoded text, or `value` itself when it is ASCII, holds a character no single
 *   byte gives (the runtime already decoded it), or is not valid UTF-8
 */
function decodeHeaderBytes(value: string): string {
  const bytes = new Uint8Array(value.length)
  let ascii = true
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code > 0xff) return value
    if (code > 0x7f) ascii = false
    bytes[i] = code
  }
  if (ascii) return value
  try {
    return utf8.decode(bytes)
  } catch {
    // Not UTF-8: a client that sent latin-1 itself; the bytes are the best reading there is.
    return value
  }
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
