import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it } from 'vitest'
import * as z from 'zod'
import { connect } from '../../src/client/connect.js'
import type { StreamHandleBase } from '../../src/client/stream-handle.js'
import { eventSourceTransport } from '../../src/client/transports/eventsource.js'
import { fetchTransport } from '../../src/client/transports/fetch.js'
import { defineCatalog, type Envelope } from '../../src/core/index.js'
import { createHub, type Hub, serveNode } from '../../src/server/index.js'
import { until } from '../client/until.js'

const closers: (() => unknown)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server: Server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function track<H extends StreamHandleBase>(handle: H): H {
  closers.push(() => handle.close())
  return handle
}

describe('the client on the wire', () => {
  it('sends Last-Event-ID as the UTF-8 bytes of the id', async () => {
    const seen: Buffer[] = []
    const origin = await listen((req, res) => {
      const at = req.rawHeaders.findIndex((name) => name.toLowerCase() === 'last-event-id')
      if (at !== -1) seen.push(Buffer.from(req.rawHeaders[at + 1] ?? '', 'latin1'))
      res.writeHead(204).end()
    })
    const id = 'é…-7'
    const stream = track(
      connect(`${origin}/events`, { transport: fetchTransport, lastEventId: id, onError: () => {} }),
    )
    stream.subscribe(() => {})
    await until(stream, (s) => s.status === 'closed')
    expect(stream.error).toBeNull()
    expect(seen).toEqual([Buffer.from(id, 'utf8')])
  })

  it('fails the connection on a 210 event stream instead of reconnecting', async () => {
    let requests = 0
    const origin = await listen((_req, res) => {
      requests++
      res.writeHead(210, { 'content-type': 'text/event-stream' }).end('retry: 0\n\n')
    })
    const stream = track(connect(`${origin}/events`, { transport: fetchTransport, onError: () => {} }))
    stream.subscribe(() => {})
    const final = await until(stream, (s) => s.status === 'closed')
    expect(final.error).toMatchObject({ code: 'http-status', status: 210 })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(requests).toBe(1)
  })

  it('loses no event type over EventSource: it asks the hub for data-only frames', async () => {
    const hub: Hub = createHub({ heartbeatMs: false })
    closers.push(() => hub.close())
    const origin = await listen((req, res) => void serveNode(hub, req, res, { stream: 'job' }))
    // The client knows only its own event; the server sends others too.
    const catalog = defineCatalog({ 'deploy.promoted': z.object({ env: z.string() }) })
    const stream = track(
      connect<typeof catalog>(`${origin}/events`, {
        transport: eventSourceTransport,
        EventSource,
        catalog,
        validate: 'passthrough',
        onError: () => {},
      }),
    )
    const received: Envelope[] = []
    stream.on('*', (event) => received.push(event))
    await until(stream, (s) => s.status === 'open')
    await hub.publish('job', 'task.created', { taskId: 't1' })
    await hub.publish('job', 'agent.started', { role: 'qa' })
    await until(stream, () => received.length === 2)
    expect(received.map((event) => event.type)).toEqual(['task.created', 'agent.started'])
  })
})
