import type { IncomingMessage } from 'node:http'
import { cleanup } from '@testing-library/react'
import { afterEach, beforeEach } from 'vitest'
import { cancelExecution, createHub, type Hub, serveNode, startExecution } from '../../src/server/index.js'
import { type SeenRequest, startServer, type TestServer } from '../helpers/http-server.js'

/** A real app on 127.0.0.1:0 with the routes the docs show, counting what it sees. */
export interface RunApp {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  readonly hub: Hub
  readonly server: TestServer
  /** The GET requests for a stream's events, in arrival order. */
  streamRequests(stream: string): SeenRequest[]
  /** The POSTs that asked to start a run. */
  starts(): SeenRequest[]
  /** The DELETEs that asked to cancel a run. */
  cancels(): SeenRequest[]
  /** How many runs the runner really started (a repeated key attaches instead). */
  runs(): number
  /** Lets every run waiting at its gate complete. */
  finishRuns(): void
  close(): Promise<void>
}

const STREAM_ROUTE = /^\/api\/runs\/([^/?]+)\/events/
const CANCEL_ROUTE = /^\/api\/executions\/([^/?]+)$/

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * Starts the app: `GET /api/runs/:stream/events` serves a stream, `POST /api/execute` starts
 * a run with the request's `Idempotency-Key` and answers with its stream (and its id in
 * `X-Execution-Id`), `DELETE /api/executions/:id` cancels one. Each run emits `task.created`,
 * then waits for {@link RunApp.finishRuns} (or its cancel), then completes.
 */
export async function startRunApp(): Promise<RunApp> {
  // `retry: 1`: a client that lost its connection comes back at once (its backoff permitting),
  // and every opened stream still starts with a write, which settles the client's resync.
  const hub = createHub({ heartbeatMs: false, retryMs: 1 })
  let runs = 0
  let finish: () => void = () => {}
  let gate = new Promise<void>((resolve) => {
    finish = resolve
  })
  const server = await startServer((req, res) => {
    const path = req.url ?? '/'
    const stream = STREAM_ROUTE.exec(path)?.[1]
    if (req.method === 'GET' && stream) {
      void serveNode(hub, req, res, { stream, onError: () => {} })
      return
    }
    if (req.method === 'POST' && path === '/api/execute') {
      startExecution(hub, {
        idempotencyKey: header(req, 'idempotency-key'),
        run: async ({ emit, signal }) => {
          runs++
          await emit('task.created', { taskId: 't1', title: 'Plan' })
          await new Promise<void>((resolve, reject) => {
            void gate.then(resolve)
            signal.addEventListener('abort', () => reject(signal.reason), { once: true })
          })
          await emit('task.completed', { taskId: 't1' })
          return 'done'
        },
      }).then(
        (execution) => {
          res.setHeader('X-Execution-Id', execution.stream)
          void serveNode(hub, req, res, { stream: execution.stream, onError: () => {} })
        },
        () => res.writeHead(500).end(),
      )
      return
    }
    const cancelled = CANCEL_ROUTE.exec(path)?.[1]
    if (req.method === 'DELETE' && cancelled) {
      void cancelExecution(hub, cancelled, { reason: 'user asked' }).then((found) =>
        res.writeHead(found ? 202 : 404).end(),
      )
      return
    }
    res.writeHead(404).end()
  })
  const matching = (method: string, test: (path: string) => boolean) => () =>
    server.requests.filter((seen) => seen.method === method && test(seen.url))
  return {
    origin: server.url,
    hub,
    server,
    streamRequests: (stream) =>
      server.requests.filter((seen) => seen.method === 'GET' && STREAM_ROUTE.exec(seen.url)?.[1] === stream),
    starts: matching('POST', (path) => path === '/api/execute'),
    cancels: matching('DELETE', (path) => CANCEL_ROUTE.test(path)),
    runs: () => runs,
    finishRuns() {
      finish()
      gate = new Promise<void>((resolve) => {
        finish = resolve
      })
    },
    async close() {
      await hub.close()
      await server.close()
    },
  }
}

/**
 * Points the DOM environment's page at the app, so the components' relative URLs are
 * same-origin requests there, as for a page the app served. The fetch they use is the DOM
 * environment's (happy-dom's): a real HTTP client that streams the body, sends cookies
 * and origin headers and enforces CORS like a browser's.
 */
export function openPageAt(origin: string): void {
  ;(globalThis as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${origin}/`)
}

/**
 * Gives a test file a fresh app per test, the page pointed at it, and everything torn down
 * after: the rendered tree, the runs still going, the clients' connections (which close
 * after the linger: waited for, so no client is left retrying against a closed port), the
 * server.
 *
 * @returns a function returning the current test's app
 */
export function appPerTest(): () => RunApp {
  let app: RunApp | undefined
  beforeEach(async () => {
    app = await startRunApp()
    openPageAt(app.origin)
  })
  afterEach(async () => {
    cleanup()
    if (!app) return
    app.finishRuns()
    await app.server.whenClosed(() => true)
    await app.close()
  })
  return () => {
    if (!app) throw new Error('appPerTest: no app outside a test')
    return app
  }
}
