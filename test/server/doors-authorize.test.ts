import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { TaskwireValidationError } from '../../src/core/index.js'
import type { AccessPolicy, Door } from '../../src/server/access.js'
import { attachWebSocket } from '../../src/server/attach-websocket.js'
import { headerReaderOf } from '../../src/server/headers.js'
import { createHub } from '../../src/server/hub.js'
import type { HubOptions } from '../../src/server/hub-options.js'
import { serveNode } from '../../src/server/serve-node.js'
import { pollUpdates, servePoll } from '../../src/server/serve-poll.js'
import { serveSnapshot } from '../../src/server/serve-snapshot.js'
import { serveWeb } from '../../src/server/serve-web.js'
import type { Hub } from '../../src/server/types.js'
import { fakeHub } from '../helpers/fake-hub.js'
import { bodyText, httpGet, startServer, type TestServer } from '../helpers/http-server.js'

const hubs: Hub[] = []
const closers: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  for (const hub of hubs.splice(0)) await hub.close()
})

/** A policy that admits `Bearer t-<user>` for the users given, names them, and records each door. */
function tokenPolicy(users: Set<string>, seen: { door: Door; stream: string }[] = []): AccessPolicy {
  return ({ stream, door, headers }) => {
    seen.push({ door, stream })
    const user = /^Bearer t-(\w+)$/.exec(headers.get('authorization') ?? '')?.[1]
    if (user === undefined || !users.has(user)) {
      return { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } }
    }
    return { key: user }
  }
}

function makeHub(options: HubOptions = {}): Hub {
  const hub = createHub({ heartbeatMs: false, onError: () => {}, ...options })
  hubs.push(hub)
  return hub
}

/** node:http with the documented routes: SSE, poll (Node), and WebSocket upgrades on /ws/<stream>. */
async function startDoors(hub: Hub): Promise<{ server: TestServer; ws: string }> {
  const server = await startServer((req, res) => {
    const [, route, stream = ''] = (req.url ?? '').split('?')[0]?.split('/') ?? []
    if (route === 'events') {
      void serveNode(hub, req, res, { stream, onError: () => {} })
    } else if (route === 'updates') {
      void pollUpdates(hub, req, { stream }).then((answer) => {
        res.writeHead(answer.status, answer.headers).end(answer.body)
      })
    } else res.writeHead(404).end()
  })
  closers.push(() => server.close())
  const wss = new WebSocketServer({ server: server.server, maxPayload: 4096 })
  const detach = attachWebSocket(hub, wss, {
    stream: (request) => (request.url ?? '').split('/')[2] ?? null,
    onError: () => {},
  })
  closers.push(() => {
    detach()
    for (const socket of wss.clients) socket.terminate()
    wss.close()
  })
  return { server, ws: server.url.replace('http', 'ws') }
}

/** Opens a socket, sends nothing, and resolves with how the server closed it. */
async function closeOf(url: string, headers: Record<string, string> = {}) {
  const socket = new WebSocket(url, { headers })
  const [code, reason] = (await once(socket, 'close')) as [number, Buffer]
  return { code, reason: reason.toString() }
}

const webRequest = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://app.test${path}`, { headers })

describe('every door asks the hub authorize policy', () => {
  it('refuses anonymous callers at the SSE, poll, snapshot and WebSocket doors, before reading the stream', async () => {
    const seen: { door: Door; stream: string }[] = []
    const hub = makeHub({ authorize: tokenPolicy(new Set(['ann']), seen) })
    await hub.publish('job-1', 'task.created', { taskId: 'secret' })
    const read = vi.spyOn(hub, 'read')
    const snapshot = vi.spyOn(hub, 'snapshot')
    const { server, ws } = await startDoors(hub)

    const sse = await httpGet(`${server.url}/events/job-1`)
    const poll = await httpGet(`${server.url}/updates/job-1`)
    for (const response of [sse, poll]) {
      expect(response.status).toBe(401)
      expect(response.headers['www-authenticate']).toBe('Bearer')
      expect(JSON.parse(await bodyText(response.message)).error.code).toBe('unauthorized')
    }
    const web = [
      await serveWeb(hub, webRequest('/e'), { stream: 'job-1' }),
      await servePoll(hub, webRequest('/u?since=0'), { stream: 'job-1' }),
      await serveSnapshot(hub, webRequest('/s'), { stream: 'job-1' }),
    ]
    for (const response of web) {
      expect(response.status).toBe(401)
      expect(await response.text()).not.toContain('secret')
    }
    expect(await closeOf(`${ws}/ws/job-1`)).toEqual({
      code: 4401,
      reason: JSON.stringify({ code: 'unauthorized' }),
    })

    expect(seen.map((access) => access.door).sort()).toEqual([
      'poll',
      'poll',
      'snapshot',
      'stream',
      'stream',
      'websocket',
    ])
    expect(seen.every((access) => access.stream === 'job-1')).toBe(true)
    expect(read).not.toHaveBeenCalled()
    expect(snapshot).not.toHaveBeenCalled()
    expect(hub.stats().connections).toBe(0)
  })

  it('admits the same callers at every door once the policy names them', async () => {
    const hub = makeHub({ authorize: tokenPolicy(new Set(['ann'])) })
    await hub.publish('job-1', 'task.created', { taskId: 't1' })
    const { server, ws } = await startDoors(hub)
    const auth = { authorization: 'Bearer t-ann' }

    const sse = await httpGet(`${server.url}/events/job-1`, auth)
    expect(sse.status).toBe(200)
    sse.message.destroy()
    const poll = await httpGet(`${server.url}/updates/job-1`, auth)
    expect(poll.status).toBe(200)
    expect(JSON.parse(await bodyText(poll.message)).events).toHaveLength(1)
    const state = await serveSnapshot(hub, webRequest('/s', auth), { stream: 'job-1' })
    expect(state.status).toBe(200)
    expect(state.headers.get('cache-control')).toBe('no-store')
    expect(await state.json()).toEqual(await hub.snapshot('job-1'))
    expect((await servePoll(hub, webRequest('/u', auth), { stream: 'job-1' })).status).toBe(200)

    const socket = new WebSocket(`${ws}/ws/job-1`, { headers: auth })
    await once(socket, 'open')
    socket.send('{"lastEventId":null}')
    const [first] = (await once(socket, 'message')) as [Buffer]
    expect(first.toString()).toMatch(/^retry: 2000\n\n/)
    socket.close()
    await once(socket, 'close')
  })

  it('answers the documented Node poll route with 401 for anonymous callers', async () => {
    const hub = makeHub({ authorize: tokenPolicy(new Set(['ann'])) })
    await hub.publish('job-9', 'task.created', { taskId: 'private' })
    const app = express()
    app.get('/api/jobs/:id/updates', async (req, res) => {
      const answer = await pollUpdates(hub, req, { stream: req.params.id })
      res.status(answer.status).set(answer.headers).send(answer.body)
    })
    const server = await startServer(app)
    closers.push(() => server.close())
    const anonymous = await fetch(`${server.url}/api/jobs/job-9/updates`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer')
    expect(await anonymous.json()).toEqual({
      error: {
        code: 'unauthorized',
        message: 'Authentication is required to read this stream; send credentials.',
      },
    })
    const ann = await fetch(`${server.url}/api/jobs/job-9/updates`, {
      headers: { authorization: 'Bearer t-ann' },
    })
    expect(ann.status).toBe(200)
    expect((await ann.json()).events[0].data.taskId).toBe('private')
  })

  it('runs the adapter authorize option after the hub policy, and both must admit', async () => {
    const calls: string[] = []
    const hub = makeHub({
      authorize: ({ headers }) => {
        calls.push('hub')
        return headers.get('authorization') === null ? { status: 401 } : true
      },
    })
    const own = (request: Request) => {
      calls.push('adapter')
      return request.headers.get('authorization') === 'Bearer admin' ? true : { status: 403 as const }
    }
    const anonymous = await serveSnapshot(hub, webRequest('/s'), { stream: 'job-1', authorize: own })
    expect(anonymous.status).toBe(401)
    expect(calls).toEqual(['hub'])
    const user = await servePoll(hub, webRequest('/u', { authorization: 'Bearer user' }), {
      stream: 'job-1',
      authorize: own,
    })
    expect(user.status).toBe(403)
    expect((await user.json()).error.code).toBe('forbidden')
    expect(calls).toEqual(['hub', 'hub', 'adapter'])
    const admin = await servePoll(hub, webRequest('/u', { authorization: 'Bearer admin' }), {
      stream: 'job-1',
      authorize: own,
    })
    expect(admin.status).toBe(200)
  })

  it('passes the key the hub policy names to hub.subscribe from serveNode and serveWeb', async () => {
    const fake = fakeHub()
    fake.policy = async (access) => ({ ok: true, key: access.headers.get('x-user') ?? 'nobody' })
    const response = await serveWeb(fake as unknown as Hub, webRequest('/e', { 'X-User': 'ann' }), {
      stream: 'job-1',
    })
    await response.body?.cancel()
    const server = await startServer((req, res) => {
      void serveNode(fake as unknown as Hub, req, res, { stream: 'job-2' })
    })
    closers.push(() => server.close())
    const node = await httpGet(`${server.url}/`, { 'x-user': 'bob' })
    node.message.destroy()
    expect(fake.calls.map((call) => [call.stream, call.options?.key])).toEqual([
      ['job-1', 'ann'],
      ['job-2', 'bob'],
    ])
    expect(fake.accesses.map((access) => access.door)).toEqual(['stream', 'stream'])
  })

  it('answers 500 through onError when the hub policy throws, and never subscribes', async () => {
    const fake = fakeHub()
    const failure = new Error('session store down')
    fake.policy = async () => {
      throw failure
    }
    const onError = vi.fn()
    const response = await serveWeb(fake as unknown as Hub, webRequest('/e'), { stream: 'job-1', onError })
    expect(response.status).toBe(500)
    expect((await response.json()).error.code).toBe('internal')
    expect(onError).toHaveBeenCalledWith(failure)
    expect(fake.calls).toEqual([])
  })
})

describe('headerReaderOf', () => {
  it('reads Node and Web request headers alike: any case, repeated values joined, null when absent', () => {
    const node = headerReaderOf({ headers: { authorization: 'Bearer a', 'x-tag': ['one', 'two'] } })
    const web = headerReaderOf(
      new Request('http://app.test/', {
        headers: [
          ['Authorization', 'Bearer a'],
          ['X-Tag', 'one'],
          ['X-Tag', 'two'],
        ],
      }),
    )
    for (const reader of [node, web]) {
      expect(reader.get('Authorization')).toBe('Bearer a')
      expect(reader.get('x-tag')).toBe('one, two')
      expect(reader.get('cookie')).toBeNull()
    }
  })
})

describe('invalid stream names', () => {
  const emptyStreamBody = {
    error: {
      code: 'invalid-stream',
      message: 'The stream must be a non-empty string (a job, run or execution id); check the URL.',
      issues: [
        {
          path: 'stream',
          message: 'The stream must be a non-empty string (a job, run or execution id); check the URL.',
          code: 'invalid_type',
        },
      ],
    },
  }

  it('answers 400 with the JSON error body for an empty stream at every HTTP door, before authorize', async () => {
    const policy = vi.fn(() => true)
    const hub = makeHub({ authorize: policy })
    const { server, ws } = await startDoors(hub)
    for (const path of ['/events/', '/updates/']) {
      const response = await httpGet(`${server.url}${path}`)
      expect(response.status).toBe(400)
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(JSON.parse(await bodyText(response.message))).toEqual(emptyStreamBody)
    }
    for (const response of [
      await serveWeb(hub, webRequest('/e'), { stream: '' }),
      await servePoll(hub, webRequest('/u'), { stream: '' }),
      await serveSnapshot(hub, webRequest('/s'), { stream: '' }),
    ]) {
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual(emptyStreamBody)
    }
    expect((await closeOf(`${ws}/ws/`)).code).toBe(4400)
    expect(policy).not.toHaveBeenCalled()
  })

  it('answers 400 with the issues when hub.subscribe rejects the stream as invalid', async () => {
    const fake = fakeHub()
    const invalid = new TaskwireValidationError('The stream name is too long.', [
      { path: 'stream', message: 'at most 256 characters', code: 'too_big' },
    ])
    fake.answer = async () => {
      throw invalid
    }
    const onError = vi.fn()
    const web = await serveWeb(fake as unknown as Hub, webRequest('/e'), { stream: 'x', onError })
    const server = await startServer((req, res) => {
      void serveNode(fake as unknown as Hub, req, res, { stream: 'x', onError })
    })
    closers.push(() => server.close())
    const node = await httpGet(server.url)
    const expected = {
      error: {
        code: 'invalid-event',
        message: 'The stream name is too long.',
        issues: [{ path: 'stream', message: 'at most 256 characters', code: 'too_big' }],
      },
    }
    expect(web.status).toBe(400)
    expect(await web.json()).toEqual(expected)
    expect(node.status).toBe(400)
    expect(JSON.parse(await bodyText(node.message))).toEqual(expected)
    expect(onError).not.toHaveBeenCalled()
  })
})

describe('the node:http example of docs/server.md', () => {
  it('answers 400 to a malformed escape in the path instead of crashing, and serves decoded names', async () => {
    const { readFile } = await import('node:fs/promises')
    const ts = (await import('typescript')).default
    const docs = await readFile(new URL('../../docs/server.md', import.meta.url), 'utf8')
    const section = docs.slice(docs.indexOf('### node:http'))
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
    expect(code).toContain('createServer(')
    // Run the snippet as written, with the hub and imports it expects, on port 0.
    const body = code
      .replace(/^import .*$/gm, '')
      .replace(/\.listen\(3000\)/, '')
      .replace(/createServer\(/, 'return createServer(')
    const js = ts.transpileModule(body, { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText
    const hub = makeHub()
    const build = new Function('createServer', 'serveNode', 'hub', js) as (...args: unknown[]) => Server
    const server = build(createServer, serveNode, hub)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    )
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const malformed = await httpGet(`${base}/api/jobs/%E0%A4%A/events`)
    expect(malformed.status).toBe(400)
    malformed.message.resume()
    await hub.publish('job 1', 'task.created', { taskId: 't1' })
    const decoded = await httpGet(`${base}/api/jobs/job%201/events`)
    expect(decoded.status).toBe(200)
    decoded.message.setEncoding('utf8')
    let text = ''
    for await (const chunk of decoded.message) {
      text += chunk as string
      if (text.includes('"taskId":"t1"')) break
    }
    expect(text).toContain('"stream":"job 1"')
    decoded.message.destroy()
  })
})
