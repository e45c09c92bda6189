import { once } from 'node:events'
import {
  createServer,
  get,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** One request the test server received. */
export interface SeenRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  req: IncomingMessage
  res: ServerResponse
}

/** A node:http server on 127.0.0.1, port 0, that records requests and can cut connections. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  url: string
  server: Server
  /** Every request, in arrival order. */
  requests: SeenRequest[]
  /** Open sockets. */
  sockets: Set<Socket>
  /**
   * Resolves with the next request (after those already seen) matching `predicate`.
   *
   * @param predicate - which request
   */
  nextRequest(predicate: (request: SeenRequest) => boolean): Promise<SeenRequest>
  /**
   * Destroys the server side of the sockets serving the matching requests still open, which
   * a client sees as a dropped connection (not a clean end).
   *
   * @param predicate - which requests
   * @returns how many sockets were destroyed
   */
  dropConnections(predicate: (request: SeenRequest) => boolean): number
  /**
   * Resolves once the server side of every matching request has closed (a client that
   * destroyed its end is only seen by the server a moment later).
   *
   * @param predicate - which requests
   */
  whenClosed(predicate: (request: SeenRequest) => boolean): Promise<void>
  /** Closes every connection and the server. */
  close(): Promise<void>
}

/**
 * Starts a server on 127.0.0.1:0. Pass a request listener (node:http handler, an Express app,
 * `getRequestListener(app.fetch)` from @hono/node-server) or a server already built (Fastify's
 * `fastify.server` after `ready()`).
 *
 * @param handler - the listener or the server
 * @returns the running server
 */
export async function startServer(handler: RequestListener | Server): Promise<TestServer> {
  const server = typeof handler === 'function' ? createServer(handler) : handler
  const requests: SeenRequest[] = []
  const sockets = new Set<Socket>()
  const waiters: { predicate: (r: SeenRequest) => boolean; resolve: (r: SeenRequest) => void }[] = []
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  // prependListener: record the request before the framework's listener can answer it.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, req, res }
    requests.push(seen)
    for (const waiter of [...waiters]) {
      if (waiter.predicate(seen)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(seen)
      }
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    sockets,
    nextRequest(predicate) {
      return new Promise((resolve) => waiters.push({ predicate, resolve }))
    },
    dropConnections(predicate) {
      let count = 0
      for (const seen of requests) {
        if (predicate(seen) && !seen.req.socket.destroyed) {
          seen.req.socket.destroy()
          count++
        }
      }
      return count
    },
    async whenClosed(predicate) {
      const open = requests.filter((seen) => predicate(seen) && !seen.res.closed)
      await Promise.all(open.map((seen) => once(seen.res, 'close')))
    },
    async close() {
      server.closeAllConnections()
      if (!server.listening) return
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
}

/** A response read with node:http, which keeps the headers exactly as sent. */
export interface RawResponse {
  status: number
  /** Header names and values as sent, in order (`res.rawHeaders`). */
  rawHeaders: string[]
  headers: IncomingMessage['headers']
  message: IncomingMessage
}

/**
 * Sends a GET with node:http (unlike fetch, it exposes raw header names and lets the test
 * pause the socket).
 *
 * @param url - the URL
 * @param headers - request headers
 * @returns the response head; read `message` for the body
 */
export function httpGet(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = get(url, { headers, agent: false }, (message) => {
      resolve({
        status: message.statusCode ?? 0,
        rawHeaders: message.rawHeaders,
        headers: message.headers,
        message,
      })
    })
    request.once('error', reject)
  })
}

/**
 * Reads a node:http response body to its end.
 *
 * @param message - the response
 * @returns the body as text
 */
export async function bodyText(message: IncomingMessage): Promise<string> {
  message.setEncoding('utf8')
  let text = ''
  for await (const chunk of message) text += chunk as string
  return text
}
