/**
 * The response headers of an SSE stream over HTTP/1.1.
 *
 * - `Content-Type: text/event-stream; charset=utf-8`: the MIME type EventSource requires
 *   (WHATWG HTML §9.2.3); a reader fails the connection on any other type.
 * - `Cache-Control: no-cache, no-transform`: no cache may replay a live stream, and no
 *   proxy may compress it (compression buffers frames until a block fills).
 * - `Connection: keep-alive`: keeps HTTP/1.1 intermediaries from closing the stream.
 * - `X-Accel-Buffering: no`: stops nginx from buffering the response.
 *
 * HTTP/2 and HTTP/3 forbid connection-specific headers such as `Connection` (RFC 9113
 * §8.2.2); use {@link sseHeadersFor} there.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#the-eventsource-interface
 * @example
 * ```ts
 * res.writeHead(200, sseHeaders)
 * ```
 */
export const sseHeaders: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
})

const http2Headers: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
})

/**
 * The SSE response headers for an HTTP version: {@link sseHeaders} for HTTP/1.x, the same
 * without `Connection` for HTTP/2 and later, where a connection-specific header makes the
 * response malformed (RFC 9113 §8.2.2).
 *
 * @param httpVersion - the request's HTTP version, as Node reports it (`'1.1'`, `'2.0'`),
 *   or a major version number
 * @returns a frozen header record
 * @example
 * ```ts
 * res.writeHead(200, sseHeadersFor(req.httpVersion))
 * ```
 */
export function sseHeadersFor(httpVersion: string | number): Readonly<Record<string, string>> {
  const major = typeof httpVersion === 'number' ? httpVersion : Number.parseInt(httpVersion, 10)
  return major >= 2 ? http2Headers : sseHeaders
}
