import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { EventSource } from 'eventsource'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  autoTransport,
  type ConnectOptions,
  connect,
  createRunStore,
  type EventSourceConstructor,
  eventSourceTransport,
  fetchTransport,
  type Resync,
} from '../../src/client/index.js'
import { type DefaultCatalog, defaultCatalog, TaskwireHttpError } from '../../src/core/index.js'
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

  /** Connects to a path of the server and keeps one subscriber on it until the test ends. */
  function open(path: string, options: ConnectOptions<DefaultCatalog> = {}) {
    const stream = connect(`${server.origin}${path}`, { onError: () => {}, random: () => 0.5, ...options })
    closers.push(() => stream.close())
    stream.subscribe(() => {})
    return stream
  }

  it('takes the eventsource package as its EventSource, and autoTransport picks it for a plain GET', async () => {
    const Source: EventSourceConstructor = EventSource
    const created: string[] = []
    class Counting extends EventSource {
      constructor(url: string | URL, init?: { withCredentials?: boolean }) {
        super(url, init)
        created.push(String(url))
      }
    }
    const stream = connect(`${server.origin}/events/job-1`, {
      transport: autoTransport,
      EventSource: Counting,
      onError: () => {},
      random: () => 0.5,
    })
    closers.push(() => stream.close())
    const run = createRunStore(stream)
    run.subscribe(() => {})
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
      `${server.origin}/events/job-1?framing=data-only`,
      `${server.origin}/events/job-1?framing=data-only&lastEventId=${started.id}`,
    ])
    expect(final.error).toBeNull()
    expect(run.getState()).toEqual(await hub.snapshot('job-1'))
    await server.settled()
    expect(hub.stats().connections).toBe(0)
  })

  it('connects on its first subscriber, lets the hub go after the linger, and replays what it missed on return', async () => {
    await hub.publish('job-6', 'run.started', {})
    const stream = connect(`${server.origin}/events/job-6`, {
      transport: fetchTransport,
      lingerMs: 20,
      onError: () => {},
    })
    closers.push(() => stream.close())
    const run = createRunStore(stream)
    const types: string[] = []
    stream.tap((event) => types.push(event.type))
    await hub.publish('job-6', 'task.created', { taskId: 't1', title: 'Build' })
    expect(stream.getSnapshot()).toEqual({ status: 'idle', lastEventId: null, error: null, resync: null })
    expect(stream.stats().attempts).toBe(0)
    expect(hub.stats().connections).toBe(0)

    const resyncs: Resync[] = []
    const leave = stream.onResync((resync) => resyncs.push(resync))
    const first = await until(stream, (s) => s.resync !== null)
    expect(hub.stats().connections).toBe(1)
    leave()
    await server.settled()
    expect(stream.status).toBe('idle')
    expect(hub.stats().connections).toBe(0)

    await hub.publish('job-6', 'task.progress', { taskId: 't1', percent: 40 })
    await hub.publish('job-6', 'task.completed', { taskId: 't1' })
    stream.onResync((resync) => resyncs.push(resync))
    run.subscribe(() => {})
    await until(stream, (s) => s.resync?.kind === 'replayed')
    expect(first.resync).toEqual({ kind: 'fresh' })
    expect(resyncs).toEqual([{ kind: 'fresh' }, { kind: 'replayed', events: 2 }])
    expect(types).toEqual(['run.started', 'task.created', 'task.progress', 'task.completed'])
    expect(stream.stats().attempts).toBe(2)
    expect(run.getState()).toEqual(await hub.snapshot('job-6'))
  })

  it('reports an invalid payload only when given a catalog to validate against', async () => {
    const ts = new Date(0).toISOString()
    const frame = (id: string, type: string, data: unknown): string =>
      `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ type, stream: 'job-7', id, ts, data })}\n\n`
    const app = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(
        frame('1-1', 'task.progress', { taskId: 't1', percent: 250 }) + frame('1-2', 'run.completed', {}),
      )
    })
    const origin = await listen(app)
    closers.push(() => {
      app.closeAllConnections()
      app.close()
    })
    const invalid: string[] = []
    const options = { transport: fetchTransport, onError: () => {} }
    const checked = connect(origin, {
      ...options,
      catalog: defaultCatalog,
      onInvalid: (error) => invalid.push(...error.issues.map((issue) => issue.path)),
    })
    const unchecked = connect(origin, options)
    const received: string[] = []
    unchecked.on('*', (event) => received.push(event.type))
    for (const stream of [checked, unchecked]) await until(stream, (s) => s.status === 'closed')
    expect(invalid).toEqual(['data.percent'])
    expect(checked.stats().invalid).toBe(1)
    expect(checked.lastEventId).toBe('1-2')
    expect(received).toEqual(['task.progress', 'run.completed'])
    expect(unchecked.stats().invalid).toBe(0)
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
      transport: fetchTransport,
      method: 'POST',
      body: '{}',
      retryOn401: true,
      headers: async () => ({ authorization: `Bearer ${tokens.shift() ?? 'none'}` }),
      onError: () => {},
    })
    closers.push(() => stream.close())
    stream.subscribe(() => {})
    await until(stream, (s) => s.status === 'open')
    expect(seen).toEqual(['Bearer expired', 'Bearer fresh'])
  })

  it('stops for good on a 401 without retryOn401', async () => {
    const stream = open('/secure/job-3', { transport: fetchTransport })
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
    const first = open('/events/job-4', { transport: fetchTransport })
    await until(first, (s) => s.status === 'open')
    const second = open('/events/job-4', { transport: fetchTransport, heartbeatTimeoutMs: false })
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
    const stream = connect(origin, { transport: fetchTransport, heartbeatTimeoutMs: 200, onError: () => {} })
    closers.push(() => stream.close())
    stream.subscribe(() => {})
    await until(stream, (s) => s.status === 'open')
    const dead = await until(stream, (s) => s.status === 'reconnecting')
    expect(dead.error?.code).toBe('timeout')
    await until(stream, (s) => s.status === 'open')
    expect(requests).toBe(2)
  })

  it('releases its connection on close(), so the hub holds nothing', async () => {
    const streams = [
      open('/events/job-5', { transport: fetchTransport }),
      open('/events/job-5', { transport: eventSourceTransport, EventSource }),
    ]
    for (const stream of streams) await until(stream, (s) => s.status === 'open')
    expect(hub.stats().connections).toBe(2)
    for (const stream of streams) stream.close()
    await server.settled()
    expect(hub.stats()).toMatchObject({ connections: 0, streams: 0, brokerListeners: 0 })
  })
})
