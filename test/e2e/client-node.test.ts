import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { EventSource } from 'eventsource'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { connect } from '../../src/client/connect.js'
import type { ConnectOptions, EventSourceConstructor } from '../../src/client/options.js'
import { type DefaultCatalog, TaskwireHttpError } from '../../src/core/index.js'
import { createHub } from '../../src/server/hub.js'
import { serveNode } from '../../src/server/serve-node.js'
import type { Hub } from '../../src/server/types.js'
import { type StreamServer, startStreamServer } from '../client/stream-server.js'
import { until } from '../client/until.js'

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('the client in Node 20', () => {
  let hub: Hub
  let server: StreamServer
  let closers: (() => unknown)[]

  beforeEach(async () => {
    hub = createHub({ heartbeatMs: 100, retryMs: 20 })
    server = await startStreamServer(hub)
    closers = []
  })
  afterEach(async () => {
    for (const close of closers.reverse()) await close()
    await server.close()
    await hub.close()
  })

  function open(path: string, options: ConnectOptions<DefaultCatalog> = {}) {
    const stream = connect(`${server.origin}${path}`, { onError: () => {}, random: () => 0.5, ...options })
    closers.push(() => stream.close())
    return stream
  }

  it('takes the eventsource package as its EventSource and picks it for a plain GET', async () => {
    const Source: EventSourceConstructor = EventSource
    const created: string[] = []
    class Counting extends EventSource {
      constructor(url: string | URL, init?: { withCredentials?: boolean }) {
        super(url, init)
        created.push(String(url))
      }
    }
    const stream = open('/events/job-1', { EventSource: Counting })
    await until(stream, (s) => s.status === 'open')
    const started = await hub.publish('job-1', 'agent.started', { role: 'qa' })
    await until(stream, (s) => s.lastEventId === started.id)
    server.cutAll()
    await until(stream, (s) => s.status === 'open' && created.length === 2)
    await hub.publish('job-1', 'agent.completed', { role: 'qa', durationMs: 5 })
    await hub.publish('job-1', 'run.completed', {})
    const final = await until(stream, (s) => s.status === 'closed')
    expect(Source).toBe(EventSource)
    expect(created).toEqual([
      `${server.origin}/events/job-1`,
      `${server.origin}/events/job-1?lastEventId=${started.id}`,
    ])
    expect(final.error).toBeNull()
    expect(final.state).toEqual(await hub.snapshot('job-1'))
    await server.settled()
    expect(hub.stats().connections).toBe(0)
  })

  it('sends a refreshed token after a 401 when retryOn401 is set', async () => {
    const tokens = ['expired', 'fresh']
    const seen: (string | undefined)[] = []
    const app = createServer((req, res) => {
      seen.push(req.headers.authorization)
      void serveNode(hub, req, res, {
        stream: 'job-2',
        authorize: (request) => request.headers.authorization === 'Bearer fresh' || { status: 401 },
        onError: () => {},
      })
    })
    const origin = await listen(app)
    closers.push(() => {
      app.closeAllConnections()
      app.close()
    })
    const stream = connect(`${origin}/`, {
      transport: 'fetch',
      method: 'POST',
      body: '{}',
      retryOn401: true,
      headers: async () => ({ authorization: `Bearer ${tokens.shift() ?? 'none'}` }),
      onError: () => {},
    })
    closers.push(() => stream.close())
    await until(stream, (s) => s.status === 'open')
    expect(seen).toEqual(['Bearer expired', 'Bearer fresh'])
  })

  it('stops for good on a 401 without retryOn401', async () => {
    const stream = open('/secure/job-3', { transport: 'fetch' })
    const final = await until(stream, (s) => s.status === 'closed')
    expect(final.error).toBeInstanceOf(TaskwireHttpError)
    expect(final.error?.code).toBe('unauthorized')
    expect(stream.stats().attempts).toBe(1)
  })

  it('waits out a 503 with Retry-After and gets in once a slot frees', async () => {
    await hub.close()
    hub = createHub({ maxPerStream: 1, retryAfterMs: 1000, heartbeatMs: false })
    await server.close()
    server = await startStreamServer(hub)
    const first = open('/events/job-4', { transport: 'fetch' })
    await until(first, (s) => s.status === 'open')
    const second = open('/events/job-4', { transport: 'fetch', heartbeatTimeoutMs: false })
    const waiting = await until(second, (s) => s.status === 'reconnecting')
    expect((waiting.error as TaskwireHttpError).status).toBe(503)
    expect((waiting.error as TaskwireHttpError).retryAfterMs).toBe(1000)
    const refusedAt = performance.now()
    first.close()
    await until(second, (s) => s.status === 'open', 5000)
    expect(performance.now() - refusedAt).toBeGreaterThanOrEqual(900)
  })

  it('treats a server that goes silent as dead and reconnects', async () => {
    let requests = 0
    const silent = createServer((_req, res) => {
      requests++
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('retry: 10\n\n')
    })
    const origin = await listen(silent)
    closers.push(() => {
      silent.closeAllConnections()
      silent.close()
    })
    const stream = connect(origin, { transport: 'fetch', heartbeatTimeoutMs: 200, onError: () => {} })
    closers.push(() => stream.close())
    await until(stream, (s) => s.status === 'open')
    const dead = await until(stream, (s) => s.status === 'reconnecting')
    expect(dead.error?.code).toBe('timeout')
    await until(stream, (s) => s.status === 'open')
    expect(requests).toBe(2)
  })

  it('releases its connection on close(), so the hub holds nothing', async () => {
    const streams = [open('/events/job-5', { transport: 'fetch' }), open('/events/job-5', { EventSource })]
    for (const stream of streams) await until(stream, (s) => s.status === 'open')
    expect(hub.stats().connections).toBe(2)
    for (const stream of streams) stream.close()
    await server.settled()
    expect(hub.stats()).toMatchObject({ connections: 0, streams: 0, brokerListeners: 0 })
  })
})
