import { getRequestListener } from '@hono/node-server'
import express from 'express'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskwireValidationError } from '../../src/core/index.js'
import { cancelExecution, startExecution } from '../../src/server/execution.js'
import { createHub } from '../../src/server/hub.js'
import { parseEvent, validationErrorBody } from '../../src/server/parse-event.js'
import { serveNode } from '../../src/server/serve-node.js'
import { serveWeb } from '../../src/server/serve-web.js'
import type { Hub } from '../../src/server/types.js'
import { startServer, type TestServer } from '../helpers/http-server.js'
import { readSse } from '../helpers/sse-reader.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serve(listener: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(listener)
  cleanups.push(() => server.close())
  return server
}

function hub(): Hub {
  const created = createHub({ heartbeatMs: false })
  cleanups.push(() => created.close())
  return created
}

/** A run that waits for the test to release it, so two starts overlap for sure. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined
  const wait = new Promise<void>((resolve) => {
    open = resolve
  })
  return { wait, open }
}

describe('the execution runner behind a POST that answers with its stream', () => {
  it('starts one run for two POSTs with the same Idempotency-Key, and streams it to both (Express)', async () => {
    const h = hub()
    const release = gate()
    let runs = 0
    const app = express()
    app.post('/api/agents/execute/stream', async (req, res) => {
      const execution = await startExecution(h, {
        idempotencyKey: req.get('Idempotency-Key'),
        run: async ({ emit }) => {
          runs++
          await emit('agent.started', { role: 'tech-lead' })
          await release.wait
          await emit('agent.completed', { role: 'tech-lead', durationMs: 1200 })
          return { tasks: 3 }
        },
      })
      res.setHeader('X-Execution-Id', execution.stream)
      return serveNode(h, req, res, { stream: execution.stream })
    })
    const server = await serve(app)
    const post = () =>
      fetch(`${server.url}/api/agents/execute/stream`, {
        method: 'POST',
        headers: { 'Idempotency-Key': 'k-1' },
      })
    const [first, second] = await Promise.all([post(), post()])
    expect(first.headers.get('x-execution-id')).toBe(second.headers.get('x-execution-id'))
    const readers = [readSse(first), readSse(second)]
    await Promise.all(readers.map((reader) => reader.until((log) => log.events.length >= 2)))
    release.open()
    const logs = await Promise.all(readers.map((reader) => reader.toEnd()))
    for (const log of logs) {
      expect(log.events.map((event) => event.event)).toEqual([
        'run.started',
        'agent.started',
        'agent.completed',
        'run.completed',
      ])
      expect(JSON.parse(log.events[3]?.data ?? '{}').data).toEqual({ output: { tasks: 3 } })
    }
    expect(runs).toBe(1)
  })

  it('keeps running when the client that started it leaves, and a GET resumes after its last id (Hono)', async () => {
    const h = hub()
    const release = gate()
    const app = new Hono()
    app.post('/runs', async (c) => {
      const execution = await startExecution(h, {
        run: async ({ emit }) => {
          await emit('node.started', { nodeId: 'fetch' })
          await release.wait
          await emit('node.completed', { nodeId: 'fetch' })
        },
      })
      return serveWeb(h, c.req.raw, {
        stream: execution.stream,
        headers: { 'X-Execution-Id': execution.stream },
      })
    })
    app.get('/runs/:id', (c) => serveWeb(h, c.req.raw, { stream: c.req.param('id') }))
    const server = await serve(getRequestListener(app.fetch))

    const started = await fetch(`${server.url}/runs`, { method: 'POST' })
    const id = started.headers.get('x-execution-id')
    const reader = readSse(started)
    const seen = await reader.events(2)
    await reader.cancel()
    await server.whenClosed((request) => request.method === 'POST')
    expect(h.stats().connections).toBe(0)
    release.open()

    const resumed = await fetch(`${server.url}/runs/${id}`, {
      headers: { 'Last-Event-ID': seen[1]?.id ?? '' },
    })
    const log = await readSse(resumed).toEnd()
    expect(log.events.map((event) => event.event)).toEqual(['node.completed', 'run.completed'])
  })

  it('ends every viewer with run.cancelled when the run is cancelled', async () => {
    const h = hub()
    const app = express()
    app.post('/runs', async (req, res) => {
      const execution = await startExecution(h, {
        run: ({ signal }) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
          ),
      })
      res.setHeader('X-Execution-Id', execution.stream)
      return serveNode(h, req, res, { stream: execution.stream })
    })
    app.delete('/runs/:id', async (req, res) => {
      res.status((await cancelExecution(h, req.params.id, { reason: 'user asked' })) ? 202 : 404).end()
    })
    const server = await serve(app)
    const started = await fetch(`${server.url}/runs`, { method: 'POST' })
    const reader = readSse(started)
    await reader.events(1)
    const cancel = await fetch(`${server.url}/runs/${started.headers.get('x-execution-id')}`, {
      method: 'DELETE',
    })
    expect(cancel.status).toBe(202)
    const log = await reader.toEnd()
    expect(log.events.map((event) => event.event)).toEqual(['run.started', 'run.cancelled'])
    expect(JSON.parse(log.events[1]?.data ?? '{}').data).toEqual({ reason: 'user asked' })
  })
})

describe('the webhook pattern', () => {
  it('answers 400 with each invalid field and publishes nothing, then 202 and a live event for a valid body', async () => {
    const h = hub()
    const app = express()
    app.post('/api/agent-hooks/task-update/:jobId', express.json(), async (req, res) => {
      try {
        const event = parseEvent(req.body)
        await h.publish(req.params.jobId, event.type, event.data)
        res.status(202).end()
      } catch (error) {
        if (error instanceof TaskwireValidationError) res.status(400).json(validationErrorBody(error))
        else throw error
      }
    })
    app.get('/api/jobs/:id/task-events', (req, res) => serveNode(h, req, res, { stream: req.params.id }))
    const server = await serve(app)
    const viewer = readSse(await fetch(`${server.url}/api/jobs/job-1/task-events`))
    await viewer.until((log) => log.items.length > 0)

    const post = (body: unknown) =>
      fetch(`${server.url}/api/agent-hooks/task-update/job-1`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
    const bad = await post({ type: 'task.status', data: { taskId: 't1', status: 'sleeping' } })
    expect(bad.status).toBe(400)
    const body = await bad.json()
    expect(body.error.code).toBe('invalid-event')
    expect(body.error.issues.map((issue: { path: string }) => issue.path)).toEqual(['data.status'])
    expect((await h.read('job-1')).events).toEqual([])

    const good = await post({
      type: 'task.status',
      data: { taskId: 't1', status: 'in_progress', note: 'Working' },
    })
    expect(good.status).toBe(202)
    const [event] = await viewer.events(1)
    expect(event?.event).toBe('task.status')
    expect(JSON.parse(event?.data ?? '{}').data).toEqual({
      taskId: 't1',
      status: 'in_progress',
      note: 'Working',
    })
    await viewer.cancel()
  })
})
