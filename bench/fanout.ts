/**
 * Fan-out benchmark: one publisher, many SSE clients over real node:http sockets, the clients
 * in a separate process. The same workload runs through taskwire's hub (validation, ids,
 * replay log, one serialization per event, joined writes), through better-sse's channel, and
 * through the hand-written EventEmitter endpoint the cards describe; results are reported as
 * ratios against the hand-written endpoint, measured in the same run.
 *
 * Run: npm run bench [-- --clients 100 --events 2000 --rounds 3]
 */
import { EventEmitter } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { createChannel, createSession } from 'better-sse'
import { createHub, serveNode } from '../src/server/index.js'
import { forkSseClients } from './sse-clients-process.js'

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    events: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    burst: { type: 'string', default: '50' },
  },
})
const CLIENTS = Number(values.clients)
const EVENTS = Number(values.events)
const ROUNDS = Number(values.rounds)
const BURST = Number(values.burst)

interface Variant {
  name: string
  handler: (req: IncomingMessage, res: ServerResponse) => void
  publish: (i: number) => void
  close: () => Promise<void>
}

const payload = (i: number) => ({
  role: 'tech-lead',
  message: `step ${i}: designing the architecture`,
  percent: i % 100,
})

function handWritten(): Variant {
  // Card 2: an EventEmitter singleton; each SSE handler serializes and writes every event.
  const emitter = new EventEmitter()
  emitter.setMaxListeners(0)
  let id = 0
  return {
    name: 'hand-written EventEmitter',
    handler(req, res) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      res.flushHeaders()
      const listener = (event: { id: number; data: unknown }) => {
        res.write(`id: ${event.id}\nevent: agent.progress\ndata: ${JSON.stringify(event)}\n\n`)
      }
      emitter.on('job', listener)
      req.on('close', () => emitter.off('job', listener))
    },
    publish(i) {
      emitter.emit('job', {
        id: ++id,
        type: 'agent.progress',
        ts: new Date().toISOString(),
        data: payload(i),
      })
    },
    close: async () => {},
  }
}

function betterSse(): Variant {
  const channel = createChannel()
  let id = 0
  return {
    name: 'better-sse channel',
    handler(req, res) {
      void createSession(req, res, { keepAlive: null }).then((session) => channel.register(session))
    },
    publish(i) {
      const eventId = String(++id)
      channel.broadcast(
        { type: 'agent.progress', id: eventId, ts: new Date().toISOString(), data: payload(i) },
        'agent.progress',
        { eventId },
      )
    },
    close: async () => {},
  }
}

function taskwire(): Variant {
  const hub = createHub({ heartbeatMs: false, maxConnections: 100_000, maxPerStream: 100_000 })
  return {
    name: 'taskwire hub',
    handler(req, res) {
      void serveNode(hub, req, res, { stream: 'job' })
    },
    publish(i) {
      hub.publish('job', 'agent.progress', payload(i)).catch((error: unknown) => {
        throw error
      })
    },
    close: () => hub.close(),
  }
}

async function listen(variant: Variant): Promise<Server> {
  const server = createServer(variant.handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

async function runRound(make: () => Variant): Promise<{ name: string; ms: number }> {
  const variant = make()
  const server = await listen(variant)
  const { port } = server.address() as AddressInfo
  const { child, next } = forkSseClients(`http://127.0.0.1:${port}/`, CLIENTS, EVENTS, variant.name)
  await next('ready')
  // Let the last subscriptions go live before the clock starts.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const done = next('done')
  const started = performance.now()
  for (let i = 0; i < EVENTS; i += BURST) {
    for (let j = i; j < Math.min(i + BURST, EVENTS); j++) variant.publish(j)
    await new Promise((resolve) => setImmediate(resolve))
  }
  await done
  const ms = performance.now() - started
  child.send('exit')
  await variant.close()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  return { name: variant.name, ms }
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

const makers = [handWritten, betterSse, taskwire]
const times = new Map<string, number[]>()
for (let round = 0; round < ROUNDS; round++) {
  for (const make of makers) {
    const { name, ms } = await runRound(make)
    times.set(name, [...(times.get(name) ?? []), ms])
  }
}

const baseline = median(times.get('hand-written EventEmitter') ?? [])
console.log(
  `fan-out: ${CLIENTS} SSE clients, ${EVENTS} events in bursts of ${BURST}, median of ${ROUNDS} rounds (node ${process.version})`,
)
console.log('| implementation | median ms | deliveries/s | speed vs hand-written |')
console.log('| --- | ---: | ---: | ---: |')
for (const [name, samples] of times) {
  const ms = median(samples)
  const rate = Math.round((CLIENTS * EVENTS) / (ms / 1000))
  console.log(
    `| ${name} | ${ms.toFixed(0)} | ${rate.toLocaleString('en-US')} | ${(baseline / ms).toFixed(2)}x |`,
  )
}
