import { once } from 'node:events'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'

/** A plain Web handler, as Next.js, Bun, Deno and Workers call it. */
export type WebHandler = (request: Request) => Response | Promise<Response>

/**
 * Runs a Web `Request -> Response` handler behind node:http, the way a Web runtime would:
 * `request.signal` aborts when the client leaves, the body is written with backpressure
 * (the next chunk is pulled only once the socket drained), and a body that errors destroys
 * the connection. GET/HEAD only: these tests send no request bodies.
 *
 * @param handler - the Web handler
 * @returns a node:http request listener
 */
export function webToNode(handler: WebHandler): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const controller = new AbortController()
    res.once('close', () => controller.abort(new Error('client left')))
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value)
      else if (Array.isArray(value)) for (const item of value) headers.append(name, item)
    }
    const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers,
      signal: controller.signal,
    })
    void Promise.resolve(handler(request)).then(
      (response) => writeResponse(response, res),
      (error: unknown) => {
        res.writeHead(500).end(String(error))
      },
    )
  }
}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    headers[name] = value
  })
  res.writeHead(response.status, headers)
  if (!response.body) {
    res.end()
    return
  }
  res.flushHeaders()
  const reader = response.body.getReader()
  res.once('close', () => {
    void reader.cancel().catch(() => undefined)
  })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (!res.write(value)) {
        // Wait for the socket to drain, but give up as soon as the body errors: a handler
        // that errors its stream wants the connection cut now, not once the client reads.
        const cleanup = new AbortController()
        const signal = cleanup.signal
        await Promise.race([
          once(res, 'drain', { signal }),
          once(res, 'close', { signal }),
          reader.closed,
        ]).finally(() => cleanup.abort())
      }
      if (res.destroyed) break
    }
    res.end()
  } catch {
    // The body errored: the handler wants the connection cut, as a Web runtime does.
    res.destroy()
  }
}
