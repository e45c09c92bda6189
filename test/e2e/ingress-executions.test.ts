import express from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type AccessPolicy,
  cancelExecution,
  createHub,
  type Hub,
  headerReaderOf,
  serveNode,
  startExecution,
} from '../../src/server/index.js'
import { startServer, type TestServer } from '../helpers/http-server.js'
import { readSse } from '../helpers/sse-reader.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Names the caller by its bearer token; asks for one when there is none. */
const authorize: AccessPolicy = ({ headers }) => {
  const token = headers.get('authorization')?.replace(/^Bearer /, '')
  return token ? { key: `user:${token}` } : { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } }
}

/** The routes of docs/server.md: a POST that starts a run, a DELETE that cancels it. */
async function app(): Promise<{ hub: Hub; server: TestServer; runs: () => number }> {
  const hub = createHub({ heartbeatMs: false, authorize })
  cleanups.push(() => hub.close())
  let runs = 0
  const app = express()
  app.post('/api/agents/execute/stream', async (req, res) => {
    const access = await hub.authorize({
      stream: 'agents',
      door: 'start',
      headers: headerReaderOf(req),
      request: req,
    })
    if (!access.ok) {
      const { status, code, message, headers } = access.refusal
      return void res.status(status).set(headers).json({ error: { code, message } })
    }
    const execution = await startExecution(hub, {
      scope: access.key,
      idempotencyKey: req.get('Idempotency-Key'),
      run: ({ signal }) => {
        runs++
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
      },
    })
    res.setHeader('X-Execution-Id', execution.stream)
    return serveNode(hub, req, res, { stream: execution.stream })
  })
  app.delete('/api/executions/:id', async (req, res) => {
    const access = await hub.authorize({
      stream: req.params.id,
      door: 'cancel',
      headers: headerReaderOf(req),
      request: req,
    })
    if (!access.ok) {
      const { status, code, message, headers } = access.refusal
      return void res.status(status).set(headers).json({ error: { code, message } })
    }
    const cancelled = await cancelExecution(hub, req.params.id, { scope: access.key, reason: 'user asked' })
    res.status(cancelled ? 202 : 404).end()
  })
  const server = await startServer(app)
  cleanups.push(() => server.close())
  return { hub, server, runs: () => runs }
}

const start = (server: TestServer, token: string, key: string) =>
  fetch(`${server.url}/api/agents/execute/stream`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Idempotency-Key': key },
  })

const cancel = (server: TestServer, id: string, token?: string) =>
  fetch(`${server.url}/api/executions/${id}`, {
    method: 'DELETE',
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  })

describe('executions scoped to the caller through the documented routes', () => {
  it('starts two runs for two callers who send the same Idempotency-Key, and one for a repeat', async () => {
    const { server, runs } = await app()
    const alice = await start(server, 'alice', 'same-key')
    const bob = await start(server, 'bob', 'same-key')
    const aliceAgain = await start(server, 'alice', 'same-key')
    const [aliceId, bobId, againId] = [alice, bob, aliceAgain].map((response) =>
      response.headers.get('x-execution-id'),
    )
    expect(bobId).not.toBe(aliceId)
    expect(againId).toBe(aliceId)
    const readers = [readSse(alice), readSse(bob), readSse(aliceAgain)]
    await Promise.all(readers.map((reader) => reader.events(1)))
    expect(runs()).toBe(2)
    for (const reader of readers) await reader.cancel()
  })

  it('cancels a run only for the caller who started it', async () => {
    const { hub, server } = await app()
    const started = await start(server, 'alice', 'k')
    const id = started.headers.get('x-execution-id') ?? ''
    const viewer = readSse(started)
    await viewer.events(1)

    const anonymous = await cancel(server, id)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer')
    expect((await cancel(server, id, 'mallory')).status).toBe(404)
    expect((await hub.read(id)).events.map((event) => event.type)).toEqual(['run.started'])

    expect((await cancel(server, id, 'alice')).status).toBe(202)
    const log = await viewer.toEnd()
    expect(log.events.map((event) => event.event)).toEqual(['run.started', 'run.cancelled'])
    expect(JSON.parse(log.events[1]?.data ?? '{}').data).toEqual({ reason: 'user asked' })
    expect((await cancel(server, id, 'alice')).status).toBe(404)
  })
})
