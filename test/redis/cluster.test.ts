import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { connect, fetchTransport } from '../../src/client/index.js'
import { initialRunState, reduceRun } from '../../src/core/index.js'
import { createRedisBroker } from '../../src/redis/index.js'
import { until } from '../client/until.js'
import { type ChildServer, startChildServer, view } from '../helpers/child-server.js'
import { deleteKeys, freshPrefix, redisAvailable, redisSkipReason, redisUrl } from '../helpers/redis.js'

const fixture = join(dirname(fileURLToPath(import.meta.url)), '../e2e/fixtures/cluster-server.ts')
const prefix = freshPrefix('cluster')
const children: ChildProcess[] = []

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})
afterAll(async () => {
  if (redisAvailable) await deleteKeys(prefix)
})

/** Starts a server process on the shared Redis and resolves with its port once it listens. */
async function startServer(env: Record<string, string> = {}): Promise<ChildServer> {
  const server = await startChildServer(fixture, { REDIS_URL: redisUrl, PREFIX: prefix, ...env })
  children.push(server.child)
  return server
}

/**
 * A TCP load balancer in front of the servers: each new connection goes to the current
 * target, and a connection whose server dies is cut, as a real balancer's would be.
 */
async function startBalancer(
  target: number,
): Promise<{ port: number; route: (port: number) => void; server: Server }> {
  let current = target
  const server = createServer((client: Socket) => {
    const upstream = createConnection(current, '127.0.0.1')
    client.pipe(upstream).pipe(client)
    const cut = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', cut).on('close', cut)
    upstream.on('error', cut).on('close', cut)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no balancer port')
  return { port: address.port, route: (port) => (current = port), server }
}

async function post(port: number, key: string): Promise<{ stream: string; created: boolean }> {
  const response = await fetch(`http://127.0.0.1:${port}/runs`, {
    method: 'POST',
    headers: { 'Idempotency-Key': key },
  })
  expect(response.status).toBe(202)
  return (await response.json()) as { stream: string; created: boolean }
}

async function started(port: number): Promise<number> {
  return ((await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { started: number }).started
}

describe.skipIf(!redisAvailable)(
  `three server processes on one Redis${redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''}`,
  () => {
    it('follows a run started on A from B, and resumes on C when B dies, losing and doubling nothing', async () => {
      const [a, b, c] = await Promise.all([
        startServer({ STEPS: '40', STEP_MS: '25' }),
        startServer(),
        startServer(),
      ])
      const balancer = await startBalancer(b.port)
      const broker = await createRedisBroker({ url: redisUrl, prefix })
      try {
        const run = await post(a.port, `key-${Date.now()}`)
        expect(run.created).toBe(true)
        const handle = connect(`http://127.0.0.1:${balancer.port}/runs/${run.stream}/events`, {
          transport: fetchTransport,
          onError: () => {},
          random: () => 0,
          backoff: { initialMs: 50, maxMs: 200 },
        })
        const { store, ids, resyncs } = view(handle)

        await until(handle, () => ids.length >= 8, 15_000)
        balancer.route(c.port)
        b.child.kill('SIGKILL')
        await once(b.child, 'exit')
        await until(handle, () => store.getState().status === 'completed', 20_000)

        const log = (await broker.read(run.stream, null)).events
        expect(log.map((event) => event.type).at(-1)).toBe('run.completed')
        expect(ids).toEqual(log.map((event) => event.id))
        expect(new Set(ids).size).toBe(ids.length)
        const folded = log.reduce(reduceRun, initialRunState)
        expect(store.getState()).toEqual(folded)
        expect(resyncs[0]).toEqual({ kind: 'fresh' })
        expect(resyncs.length).toBeGreaterThanOrEqual(2)
        for (const resync of resyncs.slice(1)) expect(['resumed', 'replayed']).toContain(resync.kind)
        handle.close()
      } finally {
        balancer.server.close()
        await broker.close()
      }
    }, 60_000)

    it('runs a start repeated with the same idempotency key on A and C once', async () => {
      const [a, c] = await Promise.all([startServer({ STEPS: '5' }), startServer({ STEPS: '5' })])
      const broker = await createRedisBroker({ url: redisUrl, prefix })
      try {
        const key = `double-click-${Date.now()}`
        const [first, second] = await Promise.all([post(a.port, key), post(c.port, key)])
        expect(second.stream).toBe(first.stream)
        expect([first.created, second.created].sort()).toEqual([false, true])
        // Bounded wait for the run's end in the shared log.
        for (let attempt = 0; attempt < 100; attempt++) {
          const log = (await broker.read(first.stream, null)).events
          if (log.at(-1)?.type === 'run.completed') break
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        const log = (await broker.read(first.stream, null)).events
        expect(log.filter((event) => event.type === 'run.started')).toHaveLength(1)
        expect(log.filter((event) => event.type === 'run.completed')).toHaveLength(1)
        expect((await started(a.port)) + (await started(c.port))).toBe(1)
        // Repeated after the end, within the idempotency window: still the same run.
        const again = await post(c.port, key)
        expect(again).toEqual({ stream: first.stream, created: false })
        expect((await started(a.port)) + (await started(c.port))).toBe(1)
      } finally {
        await broker.close()
      }
    }, 60_000)
  },
)
