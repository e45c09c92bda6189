import { once } from 'node:events'
import { connect, createServer as createHttp2Server } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TaskwireError, TaskwireHttpError } from '../../src/core/index.js'
import { createHub } from '../../src/server/hub.js'
import { type ServeResult, serveNode } from '../../src/server/serve-node.js'
import type { Hub } from '../../src/server/types.js'
import { type FakeHub, fakeHub, fakeSubscription } from '../helpers/fake-hub.js'
import { bodyText, httpGet, startServer, type TestServer } from '../helpers/http-server.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** Serves `/events/<stream>` from the fake hub with `options`, recording each result. */
async function serve(hub: FakeHub, options: Omit<Parameters<typeof serveNode>[3], 'stream'> = {}) {
  const results: Promise<ServeResult>[] = []
  server = await startServer((req, res) => {
    const stream = (req.url ?? '').split('?')[0]?.split('/')[2] ?? ''
    results.push(serveNode(hub as unknown as Hub, req, res, { ...options, stream }))
  })
  return { url: server.url, results }
}

describe('serveNode refusals', () => {
  it('answers 401 as JSON without a stream byte when authorize asks for credentials', async () => {
    const hub = fakeHub()
    const { url, results } = await serve(hub, {
      authorize: () => ({
        status: 401,
        message: 'Send a bearer token.',
        headers: { 'WWW-Authenticate': 'Bearer' },
      }),
    })
    const response = await httpGet(`${url}/events/job-1`)
    expect(response.status).toBe(401)
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(response.headers['www-authenticate']).toBe('Bearer')
    expect(JSON.parse(await bodyText(response.message))).toEqual({
      error: { code: 'unauthorized', message: 'Send a bearer token.' },
    })
    expect(hub.calls).toEqual([])
    expect(await results[0]).toEqual({ status: 401, reason: undefined })
  })

  it('answers 403 when authorize returns false', async () => {
    const hub = fakeHub()
    const seen: string[] = []
    const { url } = await serve(hub, {
      authorize: (req, stream) => {
        seen.push(`${req.headers.authorization} ${stream}`)
        return false
      },
    })
    const response = await httpGet(`${url}/events/job-2`, { authorization: 'Bearer nope' })
    expect(response.status).toBe(403)
    expect(response.headers['content-type']).not.toContain('text/event-stream')
    expect(JSON.parse(await bodyText(response.message)).error.code).toBe('forbidden')
    expect(seen).toEqual(['Bearer nope job-2'])
    expect(hub.calls).toEqual([])
  })

  it('answers the status of a TaskwireHttpError thrown by an async authorize', async () => {
    const hub = fakeHub()
    const { url } = await serve(hub, {
      authorize: async () => {
        throw new TaskwireHttpError(404, 'No job job-3.')
      },
    })
    const response = await httpGet(`${url}/events/job-3`)
    expect(response.status).toBe(404)
    expect(JSON.parse(await bodyText(response.message))).toEqual({
      error: { code: 'not-found', message: 'No job job-3.' },
    })
  })

  it('answers 500 and reports through onError when authorize throws anything else', async () => {
    const hub = fakeHub()
    const onError = vi.fn()
    const failure = new Error('session store down')
    const { url } = await serve(hub, {
      authorize: () => {
        throw failure
      },
      onError,
    })
    const response = await httpGet(`${url}/events/job-4`)
    expect(response.status).toBe(500)
    expect(JSON.parse(await bodyText(response.message)).error.code).toBe('internal')
    expect(onError).toHaveBeenCalledWith(failure)
  })

  it('answers 503 with Retry-After in whole seconds rounded up at a hub limit', async () => {
    const hub = fakeHub()
    hub.answer = async () => {
      throw new TaskwireHttpError(503, 'Too many subscribers to job-5; retry later.', {
        code: 'stream-limit',
        retryAfterMs: 1500,
      })
    }
    const { url } = await serve(hub)
    const response = await httpGet(`${url}/events/job-5`)
    expect(response.status).toBe(503)
    expect(response.headers['retry-after']).toBe('2')
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(JSON.parse(await bodyText(response.message))).toEqual({
      error: {
        code: 'stream-limit',
        message: 'Too many subscribers to job-5; retry later.',
        retryAfterMs: 1500,
      },
    })
  })

  it('answers 500 and reports a broker failure from subscribe', async () => {
    const hub = fakeHub()
    const failure = new TaskwireError('broker', 'Redis is unreachable.')
    hub.answer = async () => {
      throw failure
    }
    const onError = vi.fn()
    const { url } = await serve(hub, { onError })
    const response = await httpGet(`${url}/events/job-6`)
    expect(response.status).toBe(500)
    expect(onError).toHaveBeenCalledWith(failure)
  })

  it('answers 204 with an empty body when the hub says the stream has ended', async () => {
    const hub = fakeHub()
    hub.answer = async () => null
    const { url, results } = await serve(hub)
    const response = await httpGet(`${url}/events/job-7`)
    expect(response.status).toBe(204)
    expect(await bodyText(response.message)).toBe('')
    expect(await results[0]).toEqual({ status: 204, reason: undefined })
  })
})

describe('serveNode streams', () => {
  it('answers 500 and closes the subscription when an extra header is invalid', async () => {
    const hub = fakeHub()
    const onError = vi.fn()
    const { url, results } = await serve(hub, { headers: { 'X-Bad': 'a\nb' }, onError })
    const response = await httpGet(`${url}/events/job-13`)
    expect(response.status).toBe(500)
    expect(JSON.parse(await bodyText(response.message)).error.code).toBe('internal')
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'ERR_INVALID_CHAR' }))
    expect(hub.subscriptions[0]?.sink).toBeUndefined()
    expect(await results[0]).toEqual({ status: 500, reason: 'client' })
  })

  it('reports and cuts the connection when the response was already started by someone else', async () => {
    const hub = fakeHub()
    const onError = vi.fn()
    server = await startServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' })
      res.write('oops')
      void serveNode(hub as unknown as Hub, req, res, { stream: 'job-14', onError })
    })
    const response = await httpGet(`${server.url}/events/job-14`)
    const [error] = (await once(response.message, 'error')) as [NodeJS.ErrnoException]
    expect(error.code).toBe('ECONNRESET')
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'ERR_HTTP_HEADERS_SENT' }))
    expect(await hub.subscriptions[0]?.ended).toBe('client')
    expect(hub.subscriptions[0]?.sink).toBeUndefined()
  })

  it('writes the SSE headers exactly, flushes them before any frame, then each frame as written', async () => {
    const hub = fakeHub()
    const { url } = await serve(hub, { headers: { 'Access-Control-Allow-Origin': '*' } })
    const response = await httpGet(`${url}/events/job-8`)
    expect(response.status).toBe(200)
    const names = response.rawHeaders.filter((_, i) => i % 2 === 0)
    expect(names).toEqual([
      'Content-Type',
      'Cache-Control',
      'Connection',
      'X-Accel-Buffering',
      'Access-Control-Allow-Origin',
      'Date',
      'Transfer-Encoding',
    ])
    expect(response.headers).toMatchObject({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'transfer-encoding': 'chunked',
    })
    expect(response.headers['content-length']).toBeUndefined()
    const sink = hub.subscriptions[0]?.sink
    expect(sink).toBeDefined()
    response.message.setEncoding('utf8')
    sink?.write('retry: 2000\n\n')
    expect(await once(response.message, 'data')).toEqual(['retry: 2000\n\n'])
    sink?.write('id: 1\nevent: task.created\ndata: {}\n\n')
    expect(await once(response.message, 'data')).toEqual(['id: 1\nevent: task.created\ndata: {}\n\n'])
    sink?.end()
    await once(response.message, 'end')
  })

  it("calls a compression middleware's flush() after each write, so no frame waits for a full block", async () => {
    const hub = fakeHub()
    const flushed: number[] = []
    let writes = 0
    server = await startServer((req, res) => {
      // What `compression` adds to the response: it buffers writes until flush().
      const write = res.write.bind(res) as (chunk: string) => boolean
      res.write = ((chunk: string) => {
        writes++
        return write(chunk)
      }) as typeof res.write
      Object.assign(res, { flush: () => flushed.push(writes) })
      void serveNode(hub as unknown as Hub, req, res, { stream: 'job-9' })
    })
    const response = await httpGet(`${server.url}/events/job-9`)
    response.message.resume()
    const sink = hub.subscriptions[0]?.sink
    sink?.write('retry: 2000\n\n')
    sink?.write('id: 1\ndata: {}\n\n')
    expect(flushed).toEqual([1, 2])
    sink?.end()
    await once(response.message, 'end')
  })

  it('passes the Last-Event-ID header, else the lastEventId query parameter, and the framing to the hub', async () => {
    const hub = fakeHub()
    const { url } = await serve(hub, { framing: 'data-only' })
    const a = await httpGet(`${url}/events/s?lastEventId=3`, { 'last-event-id': '7' })
    const b = await httpGet(`${url}/events/s?lastEventId=3`)
    const c = await httpGet(`${url}/events/s`)
    expect(hub.calls.map((call) => call.options)).toEqual([
      { lastEventId: '7', framing: 'data-only' },
      { lastEventId: '3', framing: 'data-only' },
      { lastEventId: null, framing: 'data-only' },
    ])
    for (const response of [a, b, c]) response.message.destroy()
  })

  it('closes the subscription when the client disconnects and settles with reason client', async () => {
    const hub = fakeHub()
    const { url, results } = await serve(hub)
    const response = await httpGet(`${url}/events/job-9`)
    response.message.destroy()
    expect(await results[0]).toEqual({ status: 200, reason: 'client' })
    expect(hub.subscriptions[0]?.closeCalls).toBeGreaterThanOrEqual(1)
  })

  it('closes a subscription admitted after the client already left, without starting it', async () => {
    const hub = fakeHub()
    let admit: () => void = () => undefined
    const admitted = new Promise<void>((resolve) => {
      admit = resolve
    })
    hub.answer = async (stream) => {
      await admitted
      const subscription = fakeSubscription(stream)
      hub.subscriptions.push(subscription)
      return subscription
    }
    const { url, results } = await serve(hub)
    const request = httpGet(`${url}/events/job-10`).catch((error: unknown) => error)
    if (!server) throw new Error('server not started')
    const seen = await server.nextRequest(() => true)
    seen.req.socket.destroy()
    await once(seen.res, 'close')
    admit()
    expect(await results[0]).toEqual({ status: 200, reason: 'client' })
    expect(hub.subscriptions[0]?.sink).toBeUndefined()
    expect(hub.subscriptions[0]?.closeCalls).toBe(1)
    await request
  })

  it('cuts the connection when the hub ends the sink with an error', async () => {
    const hub = fakeHub()
    const { url, results } = await serve(hub)
    const response = await httpGet(`${url}/events/job-11`)
    const subscription = hub.subscriptions[0]
    subscription?.sink?.write('retry: 2000\n\n')
    subscription?.sink?.end(new TaskwireError('slow-consumer', 'Too slow.'))
    subscription?.endAs('slow-consumer')
    const [error] = (await once(response.message, 'error')) as [NodeJS.ErrnoException]
    expect(error.code).toBe('ECONNRESET')
    expect(await results[0]).toEqual({ status: 200, reason: 'slow-consumer' })
  })

  it('omits the Connection header on HTTP/2', async () => {
    const hub = fakeHub()
    const h2 = createHttp2Server((req, res) => {
      void serveNode(hub as unknown as Hub, req, res, { stream: 'job-12' })
    })
    h2.listen(0, '127.0.0.1')
    await once(h2, 'listening')
    const session = connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`)
    try {
      const stream = session.request({ ':path': '/events/job-12' })
      const [headers] = (await once(stream, 'response')) as [Record<string, string>]
      expect(headers[':status']).toBe(200)
      expect(headers['content-type']).toBe('text/event-stream; charset=utf-8')
      expect(headers['x-accel-buffering']).toBe('no')
      expect(headers.connection).toBeUndefined()
      stream.setEncoding('utf8')
      hub.subscriptions[0]?.sink?.write('retry: 2000\n\n')
      expect(await once(stream, 'data')).toEqual(['retry: 2000\n\n'])
      stream.close()
      expect(await hub.subscriptions[0]?.ended).toBe('client')
    } finally {
      session.destroy()
      h2.close()
    }
  })
})

describe('serveNode with a real hub', () => {
  it('ends the response after the terminal event and cuts open responses when the hub closes', async () => {
    const hub = createHub({ heartbeatMs: false })
    const results: Promise<ServeResult>[] = []
    server = await startServer((req, res) => {
      results.push(serveNode(hub, req, res, { stream: (req.url ?? '').slice(1) }))
    })
    await hub.publish('done', 'run.started', {})
    await hub.publish('done', 'run.completed', {})
    const ended = await httpGet(`${server.url}/done`)
    expect(await bodyText(ended.message)).toMatch(
      /^retry: 2000\n\nid: \d+-1\nevent: run.started\n[\s\S]*event: run.completed\n/,
    )
    expect(await results[0]).toEqual({ status: 200, reason: 'terminal' })

    const open = await httpGet(`${server.url}/live`)
    open.message.setEncoding('utf8')
    await once(open.message, 'data')
    const cut = once(open.message, 'error')
    await hub.close()
    expect(((await cut) as [NodeJS.ErrnoException])[0].code).toBe('ECONNRESET')
    expect(await results[1]).toEqual({ status: 200, reason: 'hub-closed' })
  })
})
