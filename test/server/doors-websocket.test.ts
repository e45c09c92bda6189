import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type ServerOptions, WebSocket, WebSocketServer } from 'ws'
import { TaskwireError } from '../../src/core/index.js'
import type { AccessPolicy } from '../../src/server/access.js'
import { type AttachWebSocketOptions, attachWebSocket } from '../../src/server/attach-websocket.js'
import { createHub } from '../../src/server/hub.js'
import type { HubOptions } from '../../src/server/hub-options.js'
import type { Hub } from '../../src/server/types.js'

let hub: Hub
let server: Server
let wss: WebSocketServer
let base: string
let detach: () => void
/** The server side of every socket, in the order they connected. */
let serverSockets: WebSocket[]

afterEach(async () => {
  detach?.()
  for (const socket of wss?.clients ?? []) socket.terminate()
  wss?.close()
  server?.closeAllConnections()
  server?.close()
  await hub?.close()
})

async function start(
  hubOptions: HubOptions = {},
  options: Partial<AttachWebSocketOptions> = {},
  wsOptions: ServerOptions = { maxPayload: 4096 },
): Promise<void> {
  hub = createHub({ heartbeatMs: false, onError: () => {}, ...hubOptions })
  server = createServer()
  wss = new WebSocketServer({ server, ...wsOptions })
  serverSockets = []
  // Registered before the adapter's, so the tests see each socket first.
  wss.on('connection', (socket) => serverSockets.push(socket))
  detach = attachWebSocket(hub, wss, {
    stream: (request) => (request.url ?? '').split('/')[2] ?? null,
    onError: () => {},
    ...options,
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`
}

/** Opens a socket as a user (or anonymously) and sends nothing. */
async function openSocket(stream: string, user?: string): Promise<WebSocket> {
  const headers: Record<string, string> = user === undefined ? {} : { authorization: `Bearer t-${user}` }
  const socket = new WebSocket(`${base}/${stream}`, { headers })
  await once(socket, 'open')
  return socket
}

async function closeOf(socket: WebSocket): Promise<{ code: number; reason: string }> {
  const [code, reason] = (await once(socket, 'close')) as [number, Buffer]
  return { code, reason: reason.toString() }
}

/** Resolves once the server has seen the n-th socket (0-based) close. */
function serverClosed(n: number): Promise<unknown> {
  const socket = serverSockets[n]
  if (!socket) throw new Error(`no server socket ${n}`)
  return socket.readyState === WebSocket.CLOSED ? Promise.resolve() : once(socket, 'close')
}

const users: AccessPolicy = ({ headers }) => {
  const user = /^Bearer t-(\w+)$/.exec(headers.get('authorization') ?? '')?.[1]
  return user === undefined ? { status: 401 } : { key: user }
}

describe('attachWebSocket before the first message', () => {
  it('refuses to attach to a WebSocketServer that would buffer large messages', () => {
    const dflt = new WebSocketServer({ noServer: true })
    const unlimited = new WebSocketServer({ noServer: true, maxPayload: 0 })
    const small = new WebSocketServer({ noServer: true, maxPayload: 4096 })
    const target = createHub({ heartbeatMs: false })
    for (const candidate of [dflt, unlimited]) {
      let error: unknown
      try {
        attachWebSocket(target, candidate, { stream: () => 'x' })
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(TaskwireError)
      expect((error as TaskwireError).code).toBe('invalid-option')
      expect((error as TaskwireError).message).toContain('maxPayload: 4096')
    }
    expect(() => attachWebSocket(target, small, { stream: () => 'x' })()).not.toThrow()
    void target.close()
  })

  it('closes an unauthorized socket with 4401 at once, before it sends anything, holding no slot', async () => {
    await start({ authorize: users })
    const socket = await openSocket('job-1')
    expect(await closeOf(socket)).toEqual({ code: 4401, reason: '{"code":"unauthorized"}' })
    expect(hub.stats().connections).toBe(0)
  })

  it('counts sockets waiting for their first message against maxConnections and refuses past it with 4503', async () => {
    await start({ maxConnections: 2, retryAfterMs: 3000 })
    const a = await openSocket('job-1')
    await openSocket('job-2')
    const third = await openSocket('job-3')
    const refused = await closeOf(third)
    expect(refused.code).toBe(4503)
    expect(JSON.parse(refused.reason)).toEqual({ code: 'connection-limit', retryAfterMs: 3000 })
    expect(hub.stats().connections).toBe(2)

    // A pending socket that leaves frees its slot; the next one subscribes in it.
    a.close()
    await serverClosed(0)
    expect(hub.stats().connections).toBe(1)
    const d = await openSocket('job-4')
    d.send('{"lastEventId":null}')
    const [first] = (await once(d, 'message')) as [Buffer]
    expect(first.toString()).toBe('retry: 2000\n\n')
    // The subscription took over the pending slot rather than taking a second one.
    expect(hub.stats()).toMatchObject({ connections: 2, streams: 1 })
  })

  it('counts one caller key pending sockets against maxConnectionsPerKey while other callers get in', async () => {
    await start({ authorize: users, maxConnectionsPerKey: 1, retryAfterMs: 1000 })
    await openSocket('job-1', 'ann')
    const again = await openSocket('job-2', 'ann')
    const refused = await closeOf(again)
    expect(refused.code).toBe(4503)
    expect(JSON.parse(refused.reason)).toEqual({ code: 'connection-limit', retryAfterMs: 1000 })
    const bob = await openSocket('job-1', 'bob')
    bob.send('{"lastEventId":null}')
    await once(bob, 'message')
    expect(hub.stats().connections).toBe(2)
  })

  it('closes with 1009 when the first message is larger than maxFirstMessageBytes, and frees the slot', async () => {
    await start({}, { maxFirstMessageBytes: 64 })
    const socket = await openSocket('job-1')
    socket.send(JSON.stringify({ lastEventId: 'x'.repeat(100) }))
    expect((await closeOf(socket)).code).toBe(1009)
    await serverClosed(0)
    expect(hub.stats().connections).toBe(0)
  })

  it('closes with 1009 a message larger than the server maxPayload, which ws never buffers whole', async () => {
    await start()
    const socket = await openSocket('job-1')
    socket.send(Buffer.alloc(1024 * 1024, 0x20))
    expect((await closeOf(socket)).code).toBe(1009)
    await serverClosed(0)
    expect(hub.stats().connections).toBe(0)
  })

  it('frees the slot of a socket that sends no first message in time (4408)', async () => {
    await start({}, { firstMessageTimeoutMs: 30 })
    const socket = await openSocket('job-1')
    expect((await closeOf(socket)).code).toBe(4408)
    expect(hub.stats().connections).toBe(0)
  })

  it('reads a first message that arrives while the socket is still being authorized', async () => {
    let admit: () => void = () => {}
    const admitted = new Promise<void>((resolve) => {
      admit = resolve
    })
    await start({
      authorize: async () => {
        await admitted
        return { key: 'ann' }
      },
    })
    await hub.publish('job-1', 'task.created', { taskId: 't1' })
    const socket = await openSocket('job-1')
    const messages: string[] = []
    socket.on('message', (data: Buffer) => messages.push(data.toString()))
    socket.send('{"lastEventId":null}')
    admit()
    while (!messages.join('').includes('"taskId":"t1"')) await once(socket, 'message')
    expect(messages[0]).toMatch(/^retry: 2000\n\n/)
  })

  it('closes a revoked caller with 1013 on hub.disconnect, and its reconnect meets authorize again', async () => {
    const tokens = new Set(['ann'])
    await start({
      authorize: ({ headers }) => {
        const user = /^Bearer t-(\w+)$/.exec(headers.get('authorization') ?? '')?.[1]
        return user !== undefined && tokens.has(user) ? { key: user } : { status: 401 }
      },
    })
    const socket = await openSocket('job-1', 'ann')
    socket.send('{"lastEventId":null}')
    await once(socket, 'message')
    tokens.delete('ann')
    expect(hub.disconnect({ key: 'ann' })).toBe(1)
    expect(await closeOf(socket)).toEqual({ code: 1013, reason: 'revoked' })
    expect((await closeOf(await openSocket('job-1', 'ann'))).code).toBe(4401)
  })
})
