import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ExampleApp } from './example-app.js'

/** A node:http server serving one or more example apps. */
export interface ServedApps {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string
  readonly server: Server
  /** Closes the server (cutting open connections) and then every app. */
  close(): Promise<void>
}

/**
 * Serves example apps on one node:http server: each request goes to the first app whose
 * route it is; an unknown route gets a 404. WebSocket upgrades go the same way.
 *
 * @param apps - the apps, in the order they are asked
 * @param options - the port (0, the default, lets the OS pick), the host, and what answers
 *   a route no app serves (a 404 by default)
 * @returns the listening server
 */
export async function serveApps(
  apps: readonly ExampleApp[],
  options: {
    port?: number | undefined
    host?: string | undefined
    fallback?: (req: IncomingMessage, res: ServerResponse) => void
  } = {},
): Promise<ServedApps> {
  const server = createServer((req, res) => {
    for (const app of apps) if (app.handle(req, res)) return
    if (options.fallback) return options.fallback(req, res)
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Not found' }))
  })
  server.on('upgrade', (req, socket, head) => {
    for (const app of apps) if (app.upgrade?.(req, socket, head)) return
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
  })
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    server,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      // Let the cut sockets report their close, so each stream ends as a client that left
      // rather than being cut again by its hub's shutdown.
      await new Promise((resolve) => setImmediate(resolve))
      await Promise.all(apps.map((app) => app.close()))
    },
  }
}
