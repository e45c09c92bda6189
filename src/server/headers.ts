import type { HeaderReader } from './access.js'

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

/** The headers of a request as Node gives them: lower-case names, repeated ones as arrays. */
type NodeHeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>

/**
 * One way to read the headers of a request, whatever the framework: a Web `Request` (Hono,
 * Next.js, Bun, Deno) or a Node `IncomingMessage` (node:http, Express, Fastify's
 * `request.raw`, HTTP/2). Names match case-insensitively and a header sent several times
 * reads as its values joined by `, `, as `Headers.get` does (RFC 9110 §5.3).
 *
 * @param request - the request
 * @returns the reader the hub's `authorize` policy is given
 * @example
 * ```ts
 * const access = await hub.authorize({ stream, door: 'cancel', headers: headerReaderOf(req), request: req })
 * ```
 */
export function headerReaderOf(request: {
  readonly headers: { get(name: string): string | null } | NodeHeaderRecord
}): HeaderReader {
  const headers = request.headers
  if (typeof headers.get === 'function') {
    const web = headers as { get(name: string): string | null }
    return { get: (name) => web.get(name) }
  }
  const record = headers as NodeHeaderRecord
  return {
    get(name) {
      const value = record[name.toLowerCase()]
      if (value === undefined) return null
      return typeof value === 'string' ? value : value.join(', ')
    },
  }
}
