import { once } from 'node:events'
import { createServer, Socket } from 'node:net'
import { EventSource } from 'eventsource'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import {
  type ConnectOptions,
  connect,
  createRunStore,
  eventSourceTransport,
  fetchTransport,
  pollingTransport,
  type Transport,
  webSocketTransport,
} from '../../src/client/index.js'
import { type DefaultCatalog, defaultCatalog, type EventInput, type EventType } from '../../src/core/index.js'
import { createHub } from '../../src/server/hub.js'
import type { Hub } from '../../src/server/types.js'
import { type StreamServer, startStreamServer } from '../client/stream-server.js'
import { until } from '../client/until.js'

const EVENTS = 10_000
const BATCH = 50
/** Pause between batches: about 4 s of publishing, so cuts land while events flow. */
const PACE_MS = 20

/** A deterministic PRNG, so a failing run can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A TCP proxy that cuts every connection through it at random intervals of 50 to 500 ms,
 * as a flaky network would: both sockets are destroyed, without a close handshake.
 */
async function startChaosProxy(targetPort: number, random: () => number) {
  const pairs = new Set<[Socket, Socket]>()
  let cuts = 0
  let cutting = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const server = createServer((client) => {
    const upstream = new Socket()
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    const drop = (): void => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    upstream.connect(targetPort, '127.0.0.1')
    client.pipe(upstream)
    upstream.pipe(client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const schedule = (): void => {
    timer = setTimeout(
      () => {
        if (!cutting) return
        if (pairs.size > 0) cuts++
        for (const [client, upstream] of [...pairs]) {
          client.destroy()
          upstream.destroy()
        }
        schedule()
      },
      50 + Math.floor(random() * 451),
    )
  }
  return {
    port,
    get cuts() {
      return cuts
    },
    get open() {
      return pairs.size
    },
    start() {
      cutting = true
      schedule()
    },
    stop() {
      cutting = false
      clearTimeout(timer)
    },
    async close() {
      this.stop()
      for (const [client, upstream] of pairs) {
        client.destroy()
        upstream.destroy()
      }
      server.close()
      await once(server, 'close')
    },
  }
}

type Step = {
  [T in EventType<DefaultCatalog>]: [T, EventInput<DefaultCatalog, T>]
}[EventType<DefaultCatalog>]

/** A varied run: tasks, agents and nodes, so the folded state has something to compare. */
function step(i: number): Step {
  switch (i % 8) {
    case 0:
      return ['task.created', { taskId: `t${i % 40}`, title: `Task ${i}` }]
    case 1:
      return ['task.progress', { taskId: `t${i % 40}`, percent: i % 100, note: `n${i}` }]
    case 2:
      return ['agent.started', { role: `r${i % 6}`, name: `Agent ${i % 6}` }]
    case 3:
      return ['agent.progress', { role: `r${i % 6}`, message: `m${i}`, percent: i % 100 }]
    case 4:
      return ['agent.completed', { role: `r${i % 6}`, durationMs: i }]
    case 5:
      return ['node.started', { nodeId: `n${i % 30}`, name: `Node ${i % 30}` }]
    case 6:
      return ['node.completed', { nodeId: `n${i % 30}`, output: { i } }]
    default:
      return ['task.status', { taskId: `t${i % 40}`, status: 'in_progress' }]
  }
}

async function publishRun(hub: Hub, stream: string): Promise<void> {
  await hub.publish(stream, 'run.started', { executionId: stream, mode: 'chaos' })
  for (let i = 1; i < EVENTS; i += BATCH) {
    const batch: Promise<unknown>[] = []
    for (let j = i; j < Math.min(i + BATCH, EVENTS); j++) {
      const [type, data] = step(j)
      batch.push(hub.publish(stream, type, data as never))
    }
    await Promise.all(batch)
    // Paces the producer so cuts land while events flow, not only after the run.
    await new Promise((resolve) => setTimeout(resolve, PACE_MS))
  }
  await hub.publish(stream, 'run.completed', { durationMs: 1 })
}

describe('the client under a network that cuts connections every 50 to 500 ms', () => {
  let hub: Hub
  let server: StreamServer
  const seed = Number(process.env.CHAOS_SEED ?? 20261121)

  beforeAll(async () => {
    hub = createHub({ replay: { maxEvents: 20_000, maxAgeMs: false }, heartbeatMs: 300, retryMs: 50 })
    server = await startStreamServer(hub)
  })
  afterAll(async () => {
    await server.close()
    await hub.close()
  })

  const transports: [string, Transport, string, Partial<ConnectOptions<DefaultCatalog>>][] = [
    ['eventsource', eventSourceTransport, 'events', { EventSource }],
    ['fetch', fetchTransport, 'events', {}],
    ['websocket', webSocketTransport, 'ws', { WebSocket }],
    ['polling', pollingTransport, 'poll', { pollIntervalMs: 25 }],
  ]

  it.each(transports)(
    'delivers %s events exactly once, in order, and folds the hub snapshot',
    async (name, transport, route, extra) => {
      const random = mulberry32(seed)
      const proxy = await startChaosProxy(server.port, random)
      const stream = `chaos-${name}`
      const ids: number[] = []
      const errors: unknown[] = []
      const started = performance.now()
      const client = connect(`http://127.0.0.1:${proxy.port}/${route}/${stream}`, {
        transport,
        // Validates every event, so that stats().invalid below proves none was corrupted.
        catalog: defaultCatalog,
        backoff: { initialMs: 20, maxMs: 250 },
        heartbeatTimeoutMs: 2000,
        random,
        onError: (error) => errors.push(error),
        ...extra,
      })
      const run = createRunStore(client)
      run.subscribe(() => {})
      const resyncs: string[] = []
      client.onResync((resync) => resyncs.push(resync.kind))
      // Ids are <epoch>-<seq>; the sequence counts every event of the stream from 1.
      client.on('*', (event) => ids.push(Number(event.id.slice(event.id.indexOf('-') + 1))))
      try {
        await until(client, (s) => s.status === 'open', 10_000)
        proxy.start()
        await publishRun(hub, stream)
        const final = await until(client, (s) => s.status === 'closed', 50_000)
        const elapsedMs = Math.round(performance.now() - started)
        proxy.stop()

        expect(final.error).toBeNull()
        expect(errors).toEqual([])
        expect(ids).toHaveLength(EVENTS + 1)
        expect(ids.every((id, index) => id === index + 1)).toBe(true)
        expect(run.getState()).toEqual(await hub.snapshot(stream))
        expect(run.getState().status).toBe('completed')
        // The replay log holds the whole run: every reconnection continues it, none resets it.
        expect(resyncs[0]).toBe('fresh')
        expect(resyncs.filter((kind) => kind !== 'replayed' && kind !== 'resumed')).toEqual(['fresh'])
        const stats = client.stats()
        expect(proxy.cuts).toBeGreaterThan(0)
        // A streaming transport holds its connection for the whole run, so every cut forces a
        // reconnect. A polling client holds one only while a request is in flight: a cut that
        // lands between two polls (or on an idle keep-alive socket) costs it nothing.
        if (name !== 'polling') expect(stats.reconnects).toBeGreaterThan(0)
        expect(stats.invalid).toBe(0)
        console.info(
          `[chaos] ${name}: ${EVENTS + 1} events in ${elapsedMs} ms, ${proxy.cuts} cuts, ` +
            `${stats.attempts} attempts, ${stats.reconnects} reconnects, ${stats.duplicates} duplicates dropped`,
        )
      } finally {
        client.close()
        await proxy.close()
      }
      await server.idle()
      expect(hub.stats().connections).toBe(0)
    },
    60_000,
  )
})
