import { readFile } from 'node:fs/promises'
import { describe, expect, it, vi } from 'vitest'
import { type Envelope, encodeEvent, TaskwireError, TaskwireHttpError } from '../../src/core/index.js'
import { createHub } from '../../src/server/hub.js'
import { serveWeb } from '../../src/server/serve-web.js'
import type { Hub } from '../../src/server/types.js'
import { fakeHub, fakeSubscription } from '../helpers/fake-hub.js'

const asHub = (fake: ReturnType<typeof fakeHub>): Hub => fake as unknown as Hub

function request(path = '/events/job-1', init: RequestInit = {}): Request {
  return new Request(`http://app.test${path}`, init)
}

describe('serveWeb refusals', () => {
  it('answers 401 and 403 as JSON without subscribing', async () => {
    const hub = fakeHub()
    const unauthorized = await serveWeb(asHub(hub), request(), {
      stream: 'job-1',
      authorize: (req) => (req.headers.has('authorization') ? true : { status: 401 }),
    })
    expect(unauthorized.status).toBe(401)
    expect(unauthorized.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(await unauthorized.json()).toEqual({
      error: {
        code: 'unauthorized',
        message: 'Authentication is required to read this stream; send credentials.',
      },
    })
    const forbidden = await serveWeb(asHub(hub), request(), { stream: 'job-1', authorize: async () => false })
    expect(forbidden.status).toBe(403)
    expect((await forbidden.json()).error.code).toBe('forbidden')
    expect(hub.calls).toEqual([])
  })

  it('answers 503 with Retry-After rounded up to whole seconds', async () => {
    const hub = fakeHub()
    hub.answer = async () => {
      throw new TaskwireHttpError(503, 'The hub is full.', { code: 'connection-limit', retryAfterMs: 5000 })
    }
    const response = await serveWeb(asHub(hub), request(), { stream: 'job-1' })
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('5')
    expect(await response.json()).toEqual({
      error: { code: 'connection-limit', message: 'The hub is full.', retryAfterMs: 5000 },
    })
  })

  it('answers 204 with no body for an ended stream', async () => {
    const hub = fakeHub()
    hub.answer = async () => null
    const response = await serveWeb(asHub(hub), request(), { stream: 'job-1' })
    expect(response.status).toBe(204)
    expect(response.body).toBeNull()
  })

  it('answers 500 and reports through onError when subscribe fails unexpectedly', async () => {
    const hub = fakeHub()
    const failure = new Error('boom')
    hub.answer = async () => {
      throw failure
    }
    const onError = vi.fn()
    const response = await serveWeb(asHub(hub), request(), { stream: 'job-1', onError })
    expect(response.status).toBe(500)
    expect(onError).toHaveBeenCalledWith(failure)
  })
})

describe('serveWeb streams', () => {
  it('answers 500 and closes the subscription when an extra header is invalid', async () => {
    const hub = fakeHub()
    const onError = vi.fn()
    const response = await serveWeb(asHub(hub), request(), {
      stream: 'job-1',
      headers: { 'X-Bad': 'a\nb' },
      onError,
    })
    expect(response.status).toBe(500)
    expect((await response.json()).error.code).toBe('internal')
    expect(onError).toHaveBeenCalledWith(expect.any(TypeError))
    expect(hub.subscriptions[0]?.closeCalls).toBe(1)
    expect(hub.subscriptions[0]?.sink).toBeUndefined()
  })

  it('answers 200 with the SSE headers, without Connection, and streams each chunk as UTF-8', async () => {
    const hub = fakeHub()
    const response = await serveWeb(asHub(hub), request(), { stream: 'job-1', headers: { 'X-Extra': '1' } })
    expect(response.status).toBe(200)
    expect([...response.headers]).toEqual([
      ['cache-control', 'no-cache, no-transform'],
      ['content-type', 'text/event-stream; charset=utf-8'],
      ['x-accel-buffering', 'no'],
      ['x-extra', '1'],
    ])
    const sink = hub.subscriptions[0]?.sink
    if (!sink || !response.body) throw new Error('not started')
    const reader = response.body.getReader()
    sink.write('data: héllo ✓ 🚀\n\n')
    const { value } = await reader.read()
    expect(new TextDecoder().decode(value)).toBe('data: héllo ✓ 🚀\n\n')
    sink.end()
    expect((await reader.read()).done).toBe(true)
  })

  it('reports the bytes enqueued and not yet read as bufferedBytes', async () => {
    const hub = fakeHub()
    const response = await serveWeb(asHub(hub), request(), { stream: 'job-1' })
    const sink = hub.subscriptions[0]?.sink
    if (!sink || !response.body) throw new Error('not started')
    expect(sink.bufferedBytes()).toBe(0)
    sink.write('data: ✓\n\n')
    sink.write('data: 12\n\n')
    // 'data: ✓\n\n' is 11 UTF-8 bytes (✓ takes 3), 'data: 12\n\n' is 10.
    expect(sink.bufferedBytes()).toBe(11 + 10)
    const reader = response.body.getReader()
    await reader.read()
    expect(sink.bufferedBytes()).toBe(10)
    await reader.read()
    expect(sink.bufferedBytes()).toBe(0)
    await reader.cancel()
  })

  it('errors the body, dropping what is queued, when the hub ends the sink with an error', async () => {
    const hub = fakeHub()
    const response = await serveWeb(asHub(hub), request(), { stream: 'job-1' })
    const sink = hub.subscriptions[0]?.sink
    if (!sink || !response.body) throw new Error('not started')
    sink.write('data: queued\n\n')
    const error = new TaskwireError('slow-consumer', 'Too slow.')
    sink.end(error)
    sink.write('data: after\n\n')
    await expect(response.body.getReader().read()).rejects.toBe(error)
  })

  it('closes the subscription and ends the body when the request signal aborts', async () => {
    const hub = fakeHub()
    const controller = new AbortController()
    const response = await serveWeb(asHub(hub), request('/e', { signal: controller.signal }), {
      stream: 'job-1',
    })
    const reader = response.body?.getReader()
    controller.abort()
    expect(await hub.subscriptions[0]?.ended).toBe('client')
    expect((await reader?.read())?.done).toBe(true)
    hub.subscriptions[0]?.sink?.write('data: late\n\n')
  })

  it('closes the subscription when the body is cancelled', async () => {
    const hub = fakeHub()
    const response = await serveWeb(asHub(hub), request(), { stream: 'job-1' })
    await response.body?.cancel()
    expect(await hub.subscriptions[0]?.ended).toBe('client')
    expect(hub.subscriptions[0]?.closeCalls).toBe(1)
  })

  it('closes a subscription admitted after the request was already aborted, without starting it', async () => {
    const hub = fakeHub()
    const controller = new AbortController()
    hub.answer = async (stream) => {
      controller.abort()
      const subscription = fakeSubscription(stream)
      hub.subscriptions.push(subscription)
      return subscription
    }
    const response = await serveWeb(asHub(hub), request('/e', { signal: controller.signal }), {
      stream: 'job-1',
    })
    expect(await hub.subscriptions[0]?.ended).toBe('client')
    expect(hub.subscriptions[0]?.sink).toBeUndefined()
    expect((await response.body?.getReader().read())?.done).toBe(true)
  })

  it('removes its abort listener once the subscription ends', async () => {
    const hub = fakeHub()
    const req = request('/e')
    const added = vi.spyOn(req.signal, 'addEventListener')
    const removed = vi.spyOn(req.signal, 'removeEventListener')
    const response = await serveWeb(asHub(hub), req, { stream: 'job-1' })
    hub.subscriptions[0]?.sink?.end()
    hub.subscriptions[0]?.endAs('terminal')
    await response.text()
    expect(added).toHaveBeenCalledTimes(1)
    expect(removed).toHaveBeenCalledWith('abort', added.mock.calls[0]?.[1])
  })

  it('reads Last-Event-ID from the header first, then from the lastEventId query parameter', async () => {
    const hub = fakeHub()
    await serveWeb(asHub(hub), request('/e?lastEventId=3', { headers: { 'Last-Event-ID': '9' } }), {
      stream: 's',
      framing: 'data-only',
    })
    await serveWeb(asHub(hub), request('/e?lastEventId=3'), { stream: 's' })
    expect(hub.calls.map((call) => call.options)).toEqual([
      { lastEventId: '9', framing: 'data-only' },
      { lastEventId: '3', framing: undefined },
    ])
  })

  it('imports no node: module, so it runs on Bun, Deno and Workers', async () => {
    for (const file of [
      'serve-web.ts',
      'serve-poll.ts',
      'serve-snapshot.ts',
      'admit-subscriber.ts',
      'last-event-id.ts',
      'headers.ts',
    ]) {
      const source = await readFile(new URL(`../../src/server/${file}`, import.meta.url), 'utf8')
      expect(source, file).not.toMatch(/from ['"]node:/)
    }
  })
})

describe('serveWeb with a real hub', () => {
  it('returns the hub to zero after 1000 in-process connect/disconnect cycles, by abort and by cancel', async () => {
    const hub = createHub({ heartbeatMs: 1000 })
    await hub.publish('cycles', 'task.created', { taskId: 't1' })
    try {
      for (let i = 0; i < 1000; i++) {
        const controller = new AbortController()
        const response = await serveWeb(hub, request('/e', { signal: controller.signal }), {
          stream: 'cycles',
        })
        const reader = response.body?.getReader()
        const first = await reader?.read()
        expect(new TextDecoder().decode(first?.value)).toMatch(/^retry: 2000\n\nid: \d+-1\n/)
        expect(hub.stats()).toEqual({ connections: 1, streams: 1, brokerListeners: 1, timers: 1 })
        if (i % 2 === 0) controller.abort()
        else await reader?.cancel()
        expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
      }
    } finally {
      await hub.close()
    }
  })

  it('ends the body after the terminal event, and answers 204 to a reconnect after it', async () => {
    const hub = createHub({ heartbeatMs: false, retryMs: false })
    try {
      await hub.publish('run-1', 'run.started', {})
      const terminal = await hub.publish('run-1', 'run.completed', {})
      const response = await serveWeb(hub, request('/e'), { stream: 'run-1' })
      const text = await response.text()
      expect(text).toBe(
        `${encodeEvent((await hub.read('run-1')).events[0] as Envelope)}${encodeEvent(terminal)}`,
      )
      const again = await serveWeb(hub, request('/e', { headers: { 'Last-Event-ID': terminal.id } }), {
        stream: 'run-1',
      })
      expect(again.status).toBe(204)
      expect(hub.stats().connections).toBe(0)
    } finally {
      await hub.close()
    }
  })
})
