import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { connect } from '../../src/client/connect.js'
import type { ConnectOptions } from '../../src/client/options.js'
import { createRunStore } from '../../src/client/run-store.js'
import { webSocketTransport } from '../../src/client/transports/websocket.js'
import { type DefaultCatalog, TaskwireHttpError } from '../../src/core/index.js'
import { attachWebSocket } from '../../src/server/attach-websocket.js'
import { createHub } from '../../src/server/hub.js'
import type { Hub } from '../../src/server/types.js'
import { until } from '../client/until.js'
import { idOf, seq } from './ids.js'

describe('attachWebSocket', () => {
  let hub: Hub
  let server: Server
  let wss: WebSocketServer
  let base: string
  let detach: () => void
  let cleanups: (() => void)[]

  async function start(options: Partial<Parameters<typeof attachWebSocket>[2]> = {}, hubOptions = {}) {
    hub = createHub({ heartbeatMs: false, ...hubOptions })
    server = createServer()
    wss = new WebSocketServer({ server, maxPayload: 4096 })
    detach = attachWebSocket(hub, wss, {
      stream: (request) => new URL(request.url ?? '/', 'http://x').pathname.split('/').at(-1) ?? null,
      onError: () => {},
      ...options,
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`
  }

  function client(stream: string, options: ConnectOptions<DefaultCatalog> = {}) {
    const handle = connect(`${base}/${stream}`, {
      transport: webSocketTransport,
      WebSocket,
      random: () => 0,
      onError: () => {},
      ...options,
    })
    cleanups.push(() => handle.close())
    return handle
  }

  /** Opens a raw socket and resolves with how the server closed it. */
  async function rawClose(path: string, first?: string): Promise<{ code: number; reason: string }> {
    const socket = new WebSocket(`${base}/${path}`)
    await once(socket, 'open')
    if (first !== undefined) socket.send(first)
    const [code, reason] = (await once(socket, 'close')) as [number, Buffer]
    return { code, reason: reason.toString() }
  }

  beforeEach(() => {
    cleanups = []
  })
  afterEach(async () => {
    for (const cleanup of cleanups) cleanup()
    detach()
    for (const socket of wss.clients) socket.terminate()
    wss.close()
    server.close()
    await hub.close()
  })

  it('replays after the first message cursor, then streams live events', async () => {
    await start()
    for (let i = 0; i < 5; i++) await hub.publish('job-1', 'task.progress', { taskId: 't', percent: i })
    const stream = client('job-1', { lastEventId: await idOf(hub, 'job-1', 2) })
    const ids: string[] = []
    stream.on('*', (event) => ids.push(seq(event.id)))
    await until(stream, (s) => seq(s.lastEventId) === '5')
    await hub.publish('job-1', 'task.progress', { taskId: 't', percent: 50 })
    await until(stream, (s) => seq(s.lastEventId) === '6')
    expect(ids).toEqual(['3', '4', '5', '6'])
    const fresh = client('job-1')
    const run = createRunStore(fresh)
    await until(fresh, (s) => seq(s.lastEventId) === '6')
    expect(run.getState()).toEqual(await hub.snapshot('job-1'))
  })

  it('sends the same bytes as the HTTP adapters: retry, frames and heartbeat', async () => {
    await start({}, { heartbeatMs: 50, retryMs: 1234 })
    await hub.publish('job-1', 'task.created', { taskId: 'a' })
    const socket = new WebSocket(`${base}/job-1`)
    await once(socket, 'open')
    socket.send('{"lastEventId":null}')
    const messages: string[] = []
    socket.on('message', (data) => messages.push(data.toString()))
    await until(client('job-1'), (s) => seq(s.lastEventId) === '1')
    for (let i = 0; i < 100 && !messages.includes(': hb\n\n'); i++) await once(socket, 'message')
    expect(messages).toContain(': hb\n\n')
    const text = messages.join('')
    expect(text).toMatch(/^retry: 1234\n\nid: \d+-1\nevent: task.created\ndata: \{"type":"task.created"/)
    socket.close()
  })

  it('closes with 4401 when authorize asks for credentials, and the client stops', async () => {
    await start({ authorize: () => ({ status: 401 }) })
    const stream = client('job-1')
    const snapshot = await until(stream, (s) => s.status === 'closed')
    expect(snapshot.error).toBeInstanceOf(TaskwireHttpError)
    expect((snapshot.error as TaskwireHttpError).status).toBe(401)
    expect(stream.stats().attempts).toBe(1)
    expect(await rawClose('job-1', '{"lastEventId":null}')).toMatchObject({ code: 4401 })
  })

  it('closes with 4403 when authorize refuses', async () => {
    await start({ authorize: () => false })
    expect(await rawClose('job-1', '{"lastEventId":null}')).toMatchObject({ code: 4403 })
  })

  it('closes with 4204 when the run ended and nothing follows the cursor, and the client stops', async () => {
    await start()
    const terminal = await hub.publish('job-1', 'run.completed', {})
    expect(await rawClose('job-1', JSON.stringify({ lastEventId: terminal.id }))).toEqual({
      code: 4204,
      reason: '',
    })
    const stream = client('job-1', { lastEventId: terminal.id })
    const snapshot = await until(stream, (s) => s.status === 'closed')
    expect(snapshot.error).toBeNull()
  })

  it('closes with 4503 and retryAfterMs at the per-stream limit', async () => {
    await start({}, { maxPerStream: 1, retryAfterMs: 3000 })
    const first = client('job-1')
    await until(first, (s) => s.status === 'open')
    const closed = await rawClose('job-1', '{"lastEventId":null}')
    expect(closed.code).toBe(4503)
    expect(JSON.parse(closed.reason)).toEqual({ code: 'stream-limit', retryAfterMs: 3000 })
  })

  it('closes with 4400 when the first message is not a cursor', async () => {
    await start()
    expect(await rawClose('job-1', 'hello')).toMatchObject({ code: 4400 })
    expect(await rawClose('job-1', '{"lastEventId":5}')).toMatchObject({ code: 4400 })
  })

  it('closes with 4408 when no first message comes in time', async () => {
    await start({ firstMessageTimeoutMs: 50 })
    expect(await rawClose('job-1')).toMatchObject({ code: 4408 })
  })

  it('closes with 4404 when stream() returns null', async () => {
    await start({ stream: () => null })
    expect(await rawClose('job-1', '{"lastEventId":null}')).toMatchObject({ code: 4404 })
  })

  it('closes normally after a terminal event and frees the hub slot', async () => {
    await start()
    const stream = client('job-1', { closeOn: false, backoff: false })
    await until(stream, (s) => s.status === 'open')
    expect(hub.stats().connections).toBe(1)
    const [serverSocket] = [...wss.clients]
    const closing = once(serverSocket as WebSocket, 'close')
    await hub.publish('job-1', 'run.completed', {})
    const [code] = (await closing) as [number]
    expect(code).toBe(1000)
    expect(hub.stats().connections).toBe(0)
  })

  it('frees the subscription when the client closes', async () => {
    await start()
    const stream = client('job-1')
    await until(stream, (s) => s.status === 'open')
    expect(hub.stats()).toMatchObject({ connections: 1, streams: 1 })
    const [serverSocket] = [...wss.clients]
    const closing = once(serverSocket as WebSocket, 'close')
    stream.close()
    await closing
    expect(hub.stats()).toMatchObject({ connections: 0, streams: 0, brokerListeners: 0 })
  })

  it('stops accepting connections once detached', async () => {
    await start()
    detach()
    const socket = new WebSocket(`${base}/job-1`)
    await once(socket, 'open')
    socket.send('{"lastEventId":null}')
    expect(hub.stats().connections).toBe(0)
    socket.close()
    await once(socket, 'close')
  })
})
