import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocketServer } from 'ws'
import { attachWebSocket } from '../../src/server/attach-websocket.js'
import { serveNode } from '../../src/server/serve-node.js'
import { pollUpdates } from '../../src/server/serve-poll.js'
import type { Hub } from '../../src/server/types.js'

/** A real node:http server mounting a hub the way an app would, for end-to-end tests. */
export interface StreamServer {
  /** `http://127.0.0.1:<port>` */
  origin: string
  port: number
  server: Server
  /** Resolves once every SSE response served so far has closed and released its hub slot. */
  settled(): Promise<void>
  /** Drops every connection, HTTP and WebSocket, without a goodbye. */
  cutAll(): void
  /** Resolves once every TCP connection to the server has closed. */
  idle(): Promise<void>
  close(): Promise<void>
}

/**
 * Routes: `GET|POST /events/:stream` (SSE via serveNode), `/secure/:stream` (always 401),
 * `GET /poll/:stream?since=`
 * (pollUpdates as JSON), WebSocket upgrades on `/ws/:stream` (attachWebSocket), and any
 * extra static files given (`/page.html`, `/client.js`).
 */
export async function startStreamServer(hub: Hub, files: Record<string, string> = {}): Promise<StreamServer> {
  const served = new Set<Promise<unknown>>()
  const track = (serving: Promise<unknown>): void => {
    served.add(serving)
    void serving.finally(() => served.delete(serving))
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const [, route, stream] = url.pathname.split('/')
    if (route === 'events' && stream) {
      track(serveNode(hub, req, res, { stream, onError: () => {} }))
      return
    }
    if (route === 'secure' && stream) {
      track(serveNode(hub, req, res, { stream, authorize: () => ({ status: 401 }), onError: () => {} }))
      return
    }
    if (route === 'poll' && stream) {
      void pollUpdates(hub, req, { stream, onError: () => {} }).then((answer) => {
        res.writeHead(answer.status, answer.headers).end(answer.body ?? undefined)
      })
      return
    }
    const file = files[url.pathname]
    if (file) {
      readFile(file).then(
        (body) => {
          const type = file.endsWith('.html') ? 'text/html' : 'text/javascript'
          res.writeHead(200, { 'content-type': `${type}; charset=utf-8` }).end(body)
        },
        () => res.writeHead(500).end(),
      )
      return
    }
    res.writeHead(404).end()
  })
  const sockets = new Set<Socket>()
  let onIdle: (() => void) | undefined
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      if (sockets.size === 0) onIdle?.()
    })
  })
  const wss = new WebSocketServer({ server, maxPayload: 4096 })
  const detach = attachWebSocket(hub, wss, {
    stream: (request) => new URL(request.url ?? '/', 'http://localhost').pathname.split('/')[2] ?? null,
    onError: () => {},
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    server,
    async settled() {
      await Promise.all([...served])
    },
    cutAll() {
      server.closeAllConnections()
      for (const socket of wss.clients) socket.terminate()
    },
    idle() {
      if (sockets.size === 0) return Promise.resolve()
      return new Promise((resolve) => {
        onIdle = () => {
          onIdle = undefined
          // Handlers of the sockets' own close events run first; let them settle.
          setImmediate(resolve)
        }
      })
    },
    async close() {
      detach()
      for (const socket of wss.clients) socket.terminate()
      wss.close()
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
