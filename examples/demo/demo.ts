import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ConnectionStatus, connect, createRunStore, type StreamHandle } from '../../src/client/index.js'
// In an app these come from 'taskwire', 'taskwire/server' and 'taskwire/client'; the demo
// imports the sources so that `npm start` needs no build.
import type { EventOf, RunState } from '../../src/core/index.js'
import { createHub, type Execution, type Hub, serveNode, startExecution } from '../../src/server/index.js'
import { simulatedRun } from './simulated-run.js'

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** The pause before each simulated event, in milliseconds. */
  stepMs: number
  /** The port to listen on; 0 lets the OS pick a free one. */
  port: number
  /** Called with each event the in-process client receives. */
  onEvent: (event: EventOf<Hub['catalog']>) => void
  /** Called when the client's connection status changes. */
  onStatus: (status: ConnectionStatus) => void
}

/** A running demo. */
export interface Demo {
  /** The server's base URL. */
  origin: string
  /** The first run, watched by the in-process client. */
  execution: Execution
  /** Resolves with the client's state once the first run has ended and the client closed. */
  finished: Promise<RunState>
  /** Closes the client, the server and the hub. */
  close(): Promise<void>
}

const EVENTS_ROUTE = /^\/runs\/([\w-]+)\/events(?:\?|$)/

/**
 * Starts the demo: a hub, a node:http server that serves each run's events at
 * `GET /runs/:id/events` and starts a new simulated run on `POST /runs`, one run started
 * right away, and a client in the same process that watches it.
 *
 * @param options - timing, port and what to do with what the client sees
 * @returns the running demo
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const hub = createHub()
  let runs = 0
  const startRun = (): Promise<Execution> =>
    startExecution(hub, {
      stream: `run-${++runs}`,
      started: { mode: 'simulation', executionId: runs },
      run: simulatedRun(options.stepMs),
    })

  const server: Server = createServer((req, res) => {
    const match = EVENTS_ROUTE.exec(req.url ?? '')
    if (req.method === 'GET' && match?.[1]) {
      void serveNode(hub, req, res, { stream: match[1] })
    } else if (req.method === 'POST' && req.url === '/runs') {
      void startRun().then(
        ({ stream }) => {
          res.writeHead(201, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ stream, events: `/runs/${stream}/events` }))
        },
        // Its stream could not be claimed in the broker (closed or unreachable).
        () => res.writeHead(503, { 'content-type': 'text/plain' }).end('Could not start a run; retry.\n'),
      )
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Try GET /runs/run-1/events or POST /runs\n')
    }
  })
  server.listen(options.port, '127.0.0.1')
  await once(server, 'listening')
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const execution = await startRun()
  const client: StreamHandle = connect(`${origin}/runs/${execution.stream}/events`)
  // Folds the events into the run state; created before the first subscriber so it sees them all.
  const run = createRunStore(client)
  client.on('*', options.onEvent)
  const finished = new Promise<RunState>((resolve) => {
    client.onStatus((status) => {
      options.onStatus(status)
      // The client closes by itself after the run's terminal event.
      if (status === 'closed') resolve(run.getState())
    })
  })

  return {
    origin,
    execution,
    finished,
    async close() {
      client.close()
      server.closeAllConnections()
      server.close()
      await hub.close()
    },
  }
}
