/**
 * taskwire's hub served by `serveNode`, with every limit raised so nothing is refused. It runs
 * the built package (dist/, as an app would), not the sources through tsx, whose helpers
 * (`__name` on every closure) would be measured too: `npm run bench` builds first.
 */
import { createServer } from 'node:http'
import { createHub, serveNode } from '../../../dist/server.js'
import { streamOf } from '../envelope.js'
import type { Variant } from '../variant.js'

const PLENTY = 1_000_000

export function createVariant(): Variant {
  const hub = createHub({
    heartbeatMs: false,
    maxConnections: PLENTY,
    maxPerStream: PLENTY,
    maxConnectionsPerKey: false,
    replay: { maxStreams: PLENTY },
    // A publish failure must stop the round, not print and go on.
    onError: (error) => fail(error),
  })
  const server = createServer((req, res) => {
    const stream = streamOf(req.url)
    if (stream === undefined) return void res.writeHead(404).end()
    void serveNode(hub, req, res, { stream })
  })
  return {
    server,
    publish(stream, payload) {
      hub.publish(stream, 'agent.progress', payload).catch(fail)
    },
  }
}

function fail(error: unknown): void {
  process.send?.({ kind: 'error', message: `taskwire: ${String(error)}` })
}
