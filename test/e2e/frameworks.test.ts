import { once } from 'node:events'
import type { Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Envelope, encodeEvent, type TaskwireError } from '../../src/core/index.js'
import { createHub } from '../../src/server/hub.js'
import type { Hub } from '../../src/server/types.js'
import {
  FRAMEWORK_NAMES,
  type FrameworkName,
  GOOD_TOKEN,
  startFramework,
} from '../helpers/framework-servers.js'
import { bodyText, httpGet, type RawResponse, type TestServer } from '../helpers/http-server.js'
import { E2E_HUB_OPTIONS, E2E_RETRY_MS, resumeScenario } from '../helpers/resume-scenario.js'
import { fetchClient, type SseClient } from '../helpers/sse-clients.js'
import { readSse } from '../helpers/sse-reader.js'

const HIGH_WATER_MARK_BYTES = 256 * 1024
const CYCLES_PER_FRAMEWORK = 200

let hub: Hub
const hubErrors: TaskwireError[] = []
const servers = new Map<FrameworkName, TestServer>()
const clients: SseClient[] = []

beforeAll(async () => {
  hub = createHub({
    ...E2E_HUB_OPTIONS,
    highWaterMarkBytes: HIGH_WATER_MARK_BYTES,
    onError: (error) => hubErrors.push(error),
  })
  for (const name of FRAMEWORK_NAMES) servers.set(name, await startFramework(name, hub))
})

afterAll(async () => {
  for (const client of clients) await client.close()
  for (const server of servers.values()) await server.close()
  await hub.close()
})

function serverFor(name: FrameworkName): TestServer {
  const server = servers.get(name)
  if (!server) throw new Error(`${name} not started`)
  return server
}

/** Reads a node:http response until its body holds `length` characters. */
async function readChars(response: RawResponse, length: number, into: { text: string }): Promise<string> {
  response.message.setEncoding('utf8')
  while (into.text.length < length) {
    const [chunk] = (await once(response.message, 'data')) as [string]
    into.text += chunk
  }
  return into.text
}

describe.each(FRAMEWORK_NAMES)('a hub served by %s', (name) => {
  const slug = name.replace(':', '-')

  // A client that destroys its end is seen by the server a moment later; wait for it so each
  // test starts from a hub holding no subscription.
  afterEach(() => serverFor(name).whenClosed(() => true))

  it('resumes a fetch reader exactly after Last-Event-ID when the server drops the socket, and answers 204 at the end', async () => {
    const client = fetchClient()
    clients.push(client)
    await resumeScenario(hub, serverFor(name), client, `fetch-${slug}`)
  })

  it('writes the SSE headers, retry: first, then id/event/data frames and heartbeat comments', async () => {
    const server = serverFor(name)
    const stream = `wire-${slug}`
    const replayed = [
      await hub.publish(stream, 'task.created', { taskId: 't1', title: 'Crème brûlée ✓' }),
      await hub.publish(stream, 'task.status', { taskId: 't1', status: 'in_progress' }),
    ]
    // A keep-alive request: without it Node answers `Connection: close` whatever the adapter says.
    const response = await httpGet(`${server.url}/events/${stream}`, { connection: 'keep-alive' })
    expect(response.status).toBe(200)
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(response.headers['cache-control']).toBe('no-cache, no-transform')
    expect(response.headers['x-accel-buffering']).toBe('no')
    expect(response.headers.connection).toBe('keep-alive')
    expect(response.headers['content-length']).toBeUndefined()
    expect(response.headers['content-encoding']).toBeUndefined()

    const body = { text: '' }
    const head = `retry: ${E2E_RETRY_MS}\n\n${replayed.map((event) => encodeEvent(event)).join('')}`
    await readChars(response, head.length, body)
    expect(body.text.slice(0, head.length)).toBe(head)
    expect(head).toContain(
      `id: ${replayed[0]?.id}\nevent: task.created\ndata: {"type":"task.created","stream":"${stream}"`,
    )

    const heartbeat = ': hb\n\n'
    while (!body.text.includes(heartbeat)) await readChars(response, body.text.length + 1, body)
    expect(body.text.slice(head.length, head.length + heartbeat.length)).toBe(heartbeat)

    const live = await hub.publish(stream, 'task.progress', { taskId: 't1', percent: 50 })
    const frame = encodeEvent(live)
    while (!body.text.includes(frame)) await readChars(response, body.text.length + 1, body)
    expect(body.text.replaceAll(heartbeat, '')).toBe(head + frame)
    response.message.destroy()
  })

  it('writes data-only frames (no event: line) on the data-only route', async () => {
    const server = serverFor(name)
    const stream = `wire-data-only-${slug}`
    const event = await hub.publish(stream, 'node.started', { nodeId: 'n1', name: 'HTTP Request' })
    const response = await httpGet(`${server.url}/data-only/${stream}`)
    const expected = `retry: ${E2E_RETRY_MS}\n\nid: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`
    const body = { text: '' }
    await readChars(response, expected.length, body)
    expect(body.text.slice(0, expected.length)).toBe(expected)
    expect(JSON.parse(JSON.stringify(event))).toMatchObject({ type: 'node.started', data: { nodeId: 'n1' } })
    response.message.destroy()
  })

  it('answers 401 and 403 as JSON with no stream byte, and streams with the right token', async () => {
    const server = serverFor(name)
    const path = `${server.url}/events/private-${slug}`
    const connectionsBefore = hub.stats().connections

    const missing = await httpGet(path)
    expect(missing.status).toBe(401)
    expect(missing.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(missing.headers['www-authenticate']).toBe('Bearer')
    const missingBody = await bodyText(missing.message)
    expect(JSON.parse(missingBody)).toEqual({
      error: {
        code: 'unauthorized',
        message: 'Authentication is required to read this stream; send credentials.',
      },
    })
    expect(missingBody).not.toContain('retry:')

    const wrong = await httpGet(path, { authorization: 'Bearer wrong' })
    expect(wrong.status).toBe(403)
    expect(wrong.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(JSON.parse(await bodyText(wrong.message)).error.code).toBe('forbidden')
    expect(hub.stats().connections).toBe(connectionsBefore)

    const allowed = await fetch(path, { headers: { authorization: GOOD_TOKEN } })
    expect(allowed.status).toBe(200)
    const reader = readSse(allowed)
    await reader.until((log) => log.items[0]?.kind === 'retry')
    await reader.cancel()
  })

  it('answers 503 with Retry-After past the per-stream limit, and admits again once a slot frees', async () => {
    const server = serverFor(name)
    const stream = `limit-${slug}`
    const path = `/events/${stream}`
    const held = [await httpGet(`${server.url}${path}`), await httpGet(`${server.url}${path}`)]
    expect(held.map((response) => response.status)).toEqual([200, 200])

    const refused = await httpGet(`${server.url}${path}`)
    expect(refused.status).toBe(503)
    expect(refused.headers['retry-after']).toBe('2')
    expect(refused.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(JSON.parse(await bodyText(refused.message)).error).toMatchObject({
      code: 'stream-limit',
      retryAfterMs: 1500,
    })

    const first = server.requests.find((request) => request.url === path)
    if (!first) throw new Error('first request not seen')
    const freed = once(first.res, 'close')
    held[0]?.message.destroy()
    await freed
    const admitted = await httpGet(`${server.url}${path}`)
    expect(admitted.status).toBe(200)
    for (const response of [admitted, held[1]]) response?.message.destroy()
  })

  it('answers 204 to a reconnect whose cursor is at the terminal event, by header or by query', async () => {
    const server = serverFor(name)
    const stream = `ended-${slug}`
    await hub.publish(stream, 'run.started', {})
    const terminal = await hub.publish(stream, 'run.completed', {})
    const byHeader = await httpGet(`${server.url}/events/${stream}`, { 'last-event-id': terminal.id })
    expect(byHeader.status).toBe(204)
    expect(await bodyText(byHeader.message)).toBe('')
    const byQuery = await httpGet(`${server.url}/events/${stream}?lastEventId=${terminal.id}`)
    expect(byQuery.status).toBe(204)
    const fresh = await fetch(`${server.url}/events/${stream}`)
    const log = await readSse(fresh).toEnd()
    expect(log.events.map((event) => event.event)).toEqual(['run.started', 'run.completed'])
  })

  it('disconnects a reader that stops reading, keeps its memory bounded, and keeps serving a reader that reads', async () => {
    const server = serverFor(name)
    const stream = `slow-${slug}`
    const path = `/events/${stream}`
    const slowSeen = server.nextRequest((request) => request.url === path)
    const slow = await httpGet(`${server.url}${path}`)
    slow.message.pause()
    const slowServerSide = await slowSeen
    let slowClosed = false
    const slowClosing = once(slowServerSide.res, 'close').then(() => {
      slowClosed = true
    })
    const fast = readSse(await fetch(`${server.url}${path}`))
    await fast.until((log) => log.items.length > 0)
    const connectionsBefore = hub.stats().connections

    const note = 'x'.repeat(32 * 1024)
    const published: Envelope[] = []
    let maxServerBuffered = 0
    for (let i = 0; i < 2000 && !slowClosed; i++) {
      published.push(await hub.publish(stream, 'task.progress', { taskId: 't1', note }))
      await fast.until((log) => log.events.length >= published.length)
      if (!slowServerSide.res.destroyed) {
        maxServerBuffered = Math.max(maxServerBuffered, slowServerSide.res.writableLength)
      }
    }
    await slowClosing
    expect(slowClosed).toBe(true)
    const frameBytes = Buffer.byteLength(encodeEvent(published[0] as Envelope))
    expect(maxServerBuffered).toBeLessThanOrEqual(HIGH_WATER_MARK_BYTES + 2 * frameBytes)
    expect(hub.stats().connections).toBe(connectionsBefore - 1)

    const after = await hub.publish(stream, 'task.status', { taskId: 't1', status: 'completed' })
    published.push(after)
    await fast.until((log) => log.events.length >= published.length)
    expect(fast.log.events.map((event) => event.id)).toEqual(published.map((event) => event.id))

    slow.message.resume()
    const [error] = (await once(slow.message, 'error').catch((caught: unknown) => [caught])) as [
      NodeJS.ErrnoException,
    ]
    expect(error.code).toBe('ECONNRESET')
    await fast.cancel()
    console.info(
      `${name}: slow reader cut after ${published.length - 1} events of ${frameBytes} bytes; max server buffer ${maxServerBuffered} bytes`,
    )
  })

  it(`returns to zero subscriptions, streams, listeners and timers after ${CYCLES_PER_FRAMEWORK} connect/disconnect cycles`, async () => {
    const server = serverFor(name)
    const stream = `cycles-${slug}`
    const path = `/events/${stream}`
    const statsBefore = hub.stats()
    const listenersBefore = ['request', 'connection', 'close'].map((event) =>
      server.server.listenerCount(event),
    )
    const sockets: Socket[] = []
    for (let i = 0; i < CYCLES_PER_FRAMEWORK; i++) {
      const seen = server.nextRequest((request) => request.url === path)
      const controller = new AbortController()
      const response = await fetch(`${server.url}${path}`, { signal: controller.signal })
      const reader = readSse(response)
      await reader.until((log) => log.items.length > 0)
      const { req, res } = await seen
      sockets.push(req.socket)
      const closed = once(res, 'close')
      controller.abort()
      await closed
      expect(hub.stats().connections).toBe(statsBefore.connections)
    }
    expect(hub.stats()).toEqual(statsBefore)
    expect(sockets.every((socket) => socket.destroyed)).toBe(true)
    expect(['request', 'connection', 'close'].map((event) => server.server.listenerCount(event))).toEqual(
      listenersBefore,
    )
  })
})

describe('every server after the suites', () => {
  it('reported no error through the hub', () => {
    expect(hubErrors).toEqual([])
  })

  it('holds no subscription, stream, broker listener or heartbeat timer once every client left', async () => {
    const open = [...servers.values()].flatMap((server) =>
      server.requests.filter((r) => !r.res.writableEnded),
    )
    for (const request of open) if (!request.res.destroyed) request.res.destroy()
    await Promise.all(open.map((request) => (request.res.closed ? undefined : once(request.res, 'close'))))
    expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
  })
})
