import { getRequestListener } from '@hono/node-server'
import express from 'express'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskwireValidationError } from '../../src/core/index.js'
import {
  createHub,
  type Hub,
  type HubOptions,
  parseEvent,
  parseEventNode,
  parseEventRequest,
  validationErrorBody,
  validationErrorResponse,
  validationErrorStatus,
} from '../../src/server/index.js'
import { startServer, type TestServer } from '../helpers/http-server.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function hub(options: HubOptions = {}): Hub {
  const created = createHub({ heartbeatMs: false, ...options })
  cleanups.push(() => created.close())
  return created
}

async function serve(listener: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(listener)
  cleanups.push(() => server.close())
  return server
}

const MAX_BODY_BYTES = 64 * 1024

/** The webhook of docs/server.md and the README, on Express 5 with no body parser. */
function expressWebhook(h: Hub): express.Express {
  const app = express()
  app.post('/api/hooks/jobs/:id', async (req, res) => {
    try {
      const event = await parseEventNode(req, { catalog: h.catalog, maxBodyBytes: MAX_BODY_BYTES })
      await h.publish(req.params.id, event.type, event.data)
      res.status(202).end()
    } catch (error) {
      if (!(error instanceof TaskwireValidationError)) throw error
      res.status(validationErrorStatus(error)).json(validationErrorBody(error))
    }
  })
  return app
}

/** The same webhook on Hono (a `Request`/`Response` runtime). */
function honoWebhook(h: Hub): Hono {
  const app = new Hono()
  app.post('/api/hooks/jobs/:id', async (c) => {
    try {
      const event = await parseEventRequest(c.req.raw, { catalog: h.catalog, maxBodyBytes: MAX_BODY_BYTES })
      await h.publish(c.req.param('id'), event.type, event.data)
      return c.body(null, 202)
    } catch (error) {
      if (error instanceof TaskwireValidationError) return validationErrorResponse(error)
      throw error
    }
  })
  return app
}

/** A body of `total` bytes sent in 16 KiB chunks without Content-Length. */
function chunkedBody(total: number): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close()
      const size = Math.min(16 * 1024, total - sent)
      sent += size
      controller.enqueue(new Uint8Array(size).fill(0x20))
    },
  })
}

const frameworks = [
  ['Express 5 with parseEventNode', (h: Hub) => serve(expressWebhook(h))],
  ['Hono with parseEventRequest', (h: Hub) => serve(getRequestListener(honoWebhook(h).fetch))],
] as const

describe.each(frameworks)('the webhook pattern on %s', (_, start) => {
  const post = (server: TestServer, body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/api/hooks/jobs/job-1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
      duplex: 'half',
    } as RequestInit)

  async function jsonError(response: Response) {
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    return ((await response.json()) as ReturnType<typeof validationErrorBody>).error
  }

  it('answers malformed JSON with a 400 JSON body listing the issue', async () => {
    const h = hub()
    const server = await start(h)
    const response = await post(server, '{"type":"task.status",')
    expect(response.status).toBe(400)
    const error = await jsonError(response)
    expect(error).toMatchObject({ code: 'invalid-event', issues: [{ path: '', code: 'invalid_json' }] })
    expect((await h.read('job-1')).events).toEqual([])
  })

  it('answers a forged stream.snapshot with 400 reserved-event-type and publishes nothing', async () => {
    const h = hub()
    const server = await start(h)
    const forged = { type: 'stream.snapshot', data: { state: { status: 'completed', tasks: {} } } }
    const response = await post(server, JSON.stringify(forged))
    expect(response.status).toBe(400)
    expect(await jsonError(response)).toMatchObject({
      code: 'reserved-event-type',
      issues: [{ path: 'type', code: 'reserved-event-type' }],
    })
    expect((await h.read('job-1')).events).toEqual([])
  })

  it('answers a body whose Content-Length passes maxBodyBytes with a 413 JSON body', async () => {
    const h = hub()
    const server = await start(h)
    const note = 'x'.repeat(MAX_BODY_BYTES)
    const response = await post(
      server,
      JSON.stringify({ type: 'task.status', data: { taskId: 't1', status: 'in_progress', note } }),
    )
    expect(response.status).toBe(413)
    expect(await jsonError(response)).toMatchObject({ code: 'body-too-large' })
    expect((await h.read('job-1')).events).toEqual([])
  })

  it('answers a chunked body that passes maxBodyBytes with a 413 JSON body', async () => {
    const h = hub()
    const server = await start(h)
    const response = await post(server, chunkedBody(4 * MAX_BODY_BYTES))
    expect(response.status).toBe(413)
    expect(await jsonError(response)).toMatchObject({ code: 'body-too-large' })
  })

  it('answers an event past the hub maxEventBytes with a 413 JSON body', async () => {
    const h = hub({ maxEventBytes: 1024 })
    const server = await start(h)
    const note = 'x'.repeat(2048)
    const response = await post(
      server,
      JSON.stringify({ type: 'task.status', data: { taskId: 't1', status: 'in_progress', note } }),
    )
    expect(response.status).toBe(413)
    expect(await jsonError(response)).toMatchObject({
      code: 'event-too-large',
      issues: [{ path: 'data' }],
    })
  })

  it('accepts a valid event with 202 and publishes it', async () => {
    const h = hub()
    const server = await start(h)
    const response = await post(
      server,
      JSON.stringify({ type: 'task.status', data: { taskId: 't1', status: 'in_progress', note: 'ok' } }),
    )
    expect(response.status).toBe(202)
    expect((await h.read('job-1')).events.map((event) => [event.type, event.data])).toEqual([
      ['task.status', { taskId: 't1', status: 'in_progress', note: 'ok' }],
    ])
  })
})

describe('the webhook pattern on Fastify 5', () => {
  it('answers malformed JSON and a forged type with taskwire 400s, and a body past bodyLimit with a 413', async () => {
    const { default: Fastify } = await import('fastify')
    const h = hub()
    const app = Fastify()
    await app.register(async (hooks) => {
      // The route reads JSON itself, so a malformed body gets taskwire's 400, not Fastify's.
      hooks.removeContentTypeParser('application/json')
      hooks.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
        done(null, body),
      )
      hooks.post<{ Params: { id: string } }>(
        '/api/hooks/jobs/:id',
        { bodyLimit: MAX_BODY_BYTES },
        async (request, reply) => {
          try {
            const event = parseEvent(request.body, { catalog: h.catalog, maxBodyBytes: MAX_BODY_BYTES })
            await h.publish(request.params.id, event.type, event.data)
            return reply.code(202).send()
          } catch (error) {
            if (!(error instanceof TaskwireValidationError)) throw error
            return reply.code(validationErrorStatus(error)).send(validationErrorBody(error))
          }
        },
      )
    })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    cleanups.push(() => app.close())
    const post = (body: string) =>
      fetch(`${url}/api/hooks/jobs/job-1`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      })

    const malformed = await post('{"type":')
    expect(malformed.status).toBe(400)
    expect(await malformed.json()).toMatchObject({ error: { code: 'invalid-event' } })
    const forged = await post(JSON.stringify({ type: 'stream.reset', data: { state: {} } }))
    expect(forged.status).toBe(400)
    expect(await forged.json()).toMatchObject({ error: { code: 'reserved-event-type' } })
    const large = await post(
      JSON.stringify({ type: 'task.deleted', data: { taskId: 'x'.repeat(MAX_BODY_BYTES) } }),
    )
    expect(large.status).toBe(413)
    expect(await large.json()).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE' })
    const valid = await post(JSON.stringify({ type: 'task.deleted', data: { taskId: 't1' } }))
    expect(valid.status).toBe(202)
    expect((await h.read('job-1')).events.map((event) => event.type)).toEqual(['task.deleted'])
  })
})
