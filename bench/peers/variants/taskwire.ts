/**
 * taskwire's hub served by `serveNode`, with every limit raised so nothing is refused. It runs
 * the built package (dist/, as an app would), not the sources through tsx, whose helpers
 * (`__name` on every closure) would be measured too: `npm run bench` builds first.
 */
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import type * as TaskwireServer from '../../../src/server/index.js'
import { streamOf } from '../envelope.js'
import type { Variant } from '../variant.js'

// Typed by the sources, loaded from the build: a path the type checker does not follow, so
// it needs no build to check this file.
const built = new URL('../../../dist/server.js', import.meta.url)
if (!existsSync(fileURLToPath(built)))
  throw new Error('Run `npm run build` first: the benchmark measures dist/.')
const { createHub, serveNode } = (await import(built.href)) as typeof TaskwireServer

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
