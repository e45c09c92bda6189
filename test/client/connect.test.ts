import { getEventListeners } from 'node:events'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { connect } from '../../src/client/connect.js'
import type { ConnectOptions } from '../../src/client/options.js'
import { createRunStore } from '../../src/client/run-store.js'
import type { ConnectionStatus, StreamHandle, StreamHandleBase } from '../../src/client/stream-handle.js'
import { fetchTransport } from '../../src/client/transports/fetch.js'
import {
  type DefaultCatalog,
  defaultCatalog,
  defineCatalog,
  initialRunState,
  isTaskwireError,
  TaskwireHttpError,
  TaskwireValidationError,
} from '../../src/core/index.js'
import { createFakeFetch, frame, progress, type StreamWithState, started } from './fakes.js'

const tick = () => vi.advanceTimersByTimeAsync(0)

describe('connect over fetch', () => {
  let server: ReturnType<typeof createFakeFetch>
  let errors: unknown[]
  let handles: StreamHandleBase[]

  function open(options: ConnectOptions<DefaultCatalog> = {}): StreamWithState {
    const handle = connect('https://api.test/jobs/1/events', {
      transport: fetchTransport,
      fetch: server.fetch,
      random: () => 0.5,
      onError: (error) => errors.push(error),
      ...options,
    })
    handles.push(handle)
    return started(handle)
  }

  function statuses(handle: StreamHandle): ConnectionStatus[] {
    const seen: ConnectionStatus[] = []
    handle.onStatus((status) => seen.push(status))
    return seen
  }

  beforeEach(() => {
    vi.useFakeTimers()
    server = createFakeFetch()
    errors = []
    handles = []
  })
  afterEach(() => {
    for (const handle of handles) handle.close()
    vi.useRealTimers()
  })

  it('delivers typed events and folds them into the run state', async () => {
    const stream = open()
    const seen: number[] = []
    stream.on('agent.completed', (event) => seen.push(event.data.durationMs ?? -1))
    expect(stream.status).toBe('connecting')
    await tick()
    expect(stream.status).toBe('open')
    server.last.push('retry: 1000\n\n')
    server.last.push(frame(1, 'agent.started', { role: 'tech-lead', name: 'Tech lead' }))
    server.last.push(frame(2, 'agent.completed', { role: 'tech-lead', durationMs: 1250 }))
    await tick()
    expect(seen).toEqual([1250])
    expect(stream.state.agents['tech-lead']?.status).toBe('completed')
    expect(stream.lastEventId).toBe('2')
    expect(server.last.headers.accept).toBe('text/event-stream')
    expect(server.last.headers['last-event-id']).toBeUndefined()
    expect(errors).toEqual([])
  })
  it('folds events into a run store read without subscribing to it', async () => {
    const handle = connect('https://api.test/jobs/1/events', {
      transport: fetchTransport,
      fetch: server.fetch,
    })
    handles.push(handle)
    const store = createRunStore(handle)
    handle.on('*', () => {})
    await tick()
    server.last.push(frame(1, 'agent.started', { role: 'tech-lead', name: 'Tech lead' }))
    server.last.push(frame(2, 'agent.completed', { role: 'tech-lead', durationMs: 1250 }))
    await tick()
    expect(store.getState().agents['tech-lead']?.status).toBe('completed')
  })

  it('does nothing until its first subscriber and goes idle lingerMs after its last', async () => {
    const handle = connect('https://api.test/jobs/1/events', {
      transport: fetchTransport,
      fetch: server.fetch,
    })
    handles.push(handle)
    expect(handle.status).toBe('idle')
    expect(handle.getServerSnapshot()).toMatchObject({ status: 'idle', lastEventId: null, error: null })
    await tick()
    expect(server.requests).toHaveLength(0)
    const stop = handle.on('*', () => {})
    expect(handle.status).toBe('connecting')
    await tick()
    expect(handle.status).toBe('open')
    server.last.push(progress(1))
    await tick()
    stop()
    await vi.advanceTimersByTimeAsync(249)
    expect(handle.status).toBe('open')
    await vi.advanceTimersByTimeAsync(1)
    expect(handle.status).toBe('idle')
    expect(server.open).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    handle.on('*', () => {})
    await tick()
    expect(server.requests).toHaveLength(2)
    expect(server.last.headers['last-event-id']).toBe('1')
    expect(handle.status).toBe('open')
  })

  it('calls on("*") for every event, after the typed handlers', async () => {
    const stream = open()
    const order: string[] = []
    stream.on('*', (event) => order.push(`*:${event.type}`))
    stream.on('task.created', () => order.push('task.created'))
    await tick()
    server.last.push(frame(1, 'task.created', { taskId: 'a' }) + frame(2, 'task.deleted', { taskId: 'a' }))
    await tick()
    expect(order).toEqual(['task.created', '*:task.created', '*:task.deleted'])
  })

  it('reconnects after a clean server close and resumes with Last-Event-ID', async () => {
    const stream = open()
    const seen = statuses(stream)
    await tick()
    server.last.push(progress(1) + progress(2))
    await tick()
    server.last.end()
    await tick()
    expect(stream.status).toBe('reconnecting')
    expect(stream.error).toBeNull()
    await vi.advanceTimersByTimeAsync(250)
    expect(server.requests).toHaveLength(2)
    expect(server.last.headers['last-event-id']).toBe('2')
    expect(seen).toEqual(['open', 'reconnecting', 'open'])
  })

  it('drops events whose id was already delivered', async () => {
    const stream = open()
    const ids: string[] = []
    stream.on('*', (event) => ids.push(event.id))
    await tick()
    server.last.push(progress(1) + progress(2) + progress(3))
    await tick()
    server.last.end()
    await vi.advanceTimersByTimeAsync(250)
    // A server that replays too much: 2 and 3 again, then 4.
    server.last.push(progress(2) + progress(3) + progress(4))
    await tick()
    expect(ids).toEqual(['1', '2', '3', '4'])
    expect(stream.stats().duplicates).toBe(2)
  })

  it('applies a stream.reset whose id is below the last id, as after a server restart', async () => {
    const stream = open()
    await tick()
    server.last.push(progress(40) + progress(41))
    await tick()
    expect(stream.state.tasks[0]?.percent).toBe(41)
    server.last.end()
    await vi.advanceTimersByTimeAsync(250)
    // The restarted server no longer knows id 41: it resets to its own newest id, 2.
    const reset = { ...initialRunState, stream: 'job-1', lastEventId: '2' }
    server.last.push(frame(2, 'stream.reset', { state: reset, reason: 'cursor-unknown' }) + progress(3))
    await tick()
    expect(stream.lastEventId).toBe('3')
    expect(stream.state.tasks).toEqual([expect.objectContaining({ id: 't1', percent: 3 })])
    expect(stream.stats().duplicates).toBe(0)
  })

  it('resumes after an id from a block without data', async () => {
    const stream = open()
    await tick()
    server.last.push(`${progress(1)}id: 5\n\n`)
    await tick()
    expect(stream.lastEventId).toBe('5')
    server.last.fail()
    await vi.advanceTimersByTimeAsync(250)
    expect(server.last.headers['last-event-id']).toBe('5')
  })

  it('waits a jittered, growing, capped delay between failed attempts', async () => {
    server.reply(...Array.from({ length: 9 }, () => ({ kind: 'network' as const })))
    const times: number[] = []
    const fetch: typeof globalThis.fetch = (input, init) => {
      times.push(Date.now())
      return server.fetch(input, init)
    }
    const stream = open({ fetch, random: () => 0.999999, heartbeatTimeoutMs: false })
    await vi.advanceTimersByTimeAsync(200_000)
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0))
    expect(gaps).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999])
    expect(stream.status).toBe('open')
    expect(stream.stats()).toMatchObject({ attempts: 10, reconnects: 9 })
  })

  it('starts over from the first delay after a healthy connection', async () => {
    server.reply({ kind: 'network' }, { kind: 'network' }, { kind: 'network' })
    const stream = open({ random: () => 0.999999 })
    await tick() // attempt 1 fails: wait < 500
    await vi.advanceTimersByTimeAsync(499) // attempt 2 fails: wait < 1000
    await vi.advanceTimersByTimeAsync(999) // attempt 3 fails: wait < 2000
    await vi.advanceTimersByTimeAsync(1999) // attempt 4 opens
    expect(server.requests).toHaveLength(4)
    expect(stream.status).toBe('open')
    server.last.push(progress(1))
    await tick()
    server.last.end()
    await vi.advanceTimersByTimeAsync(498)
    expect(server.requests).toHaveLength(4)
    await vi.advanceTimersByTimeAsync(1)
    expect(server.requests).toHaveLength(5)
  })

  it('counts a connection open for resetAfterMs as healthy even without events', async () => {
    server.reply({ kind: 'network' }, { kind: 'network' })
    const stream = open({
      random: () => 0.999999,
      backoff: { resetAfterMs: 5000 },
      heartbeatTimeoutMs: false,
    })
    await vi.advanceTimersByTimeAsync(499 + 999)
    expect(stream.status).toBe('open')
    await vi.advanceTimersByTimeAsync(5000)
    server.last.end()
    await vi.advanceTimersByTimeAsync(499)
    expect(server.requests).toHaveLength(4)
  })

  it("waits the server's retry: value as a floor, plus the jitter window", async () => {
    open({ random: () => 0.5 })
    await tick()
    server.last.push('retry: 4000\n\n')
    await tick()
    server.last.end()
    // 4000 + floor(0.5 × 500)
    await vi.advanceTimersByTimeAsync(4249)
    expect(server.requests).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(server.requests).toHaveLength(2)
  })

  it('waits at least Retry-After when the server answers 503', async () => {
    server.reply({
      kind: 'status',
      status: 503,
      headers: { 'retry-after': '7', 'content-type': 'application/json' },
    })
    const stream = open()
    await tick()
    expect(stream.status).toBe('reconnecting')
    expect(stream.error).toBeInstanceOf(TaskwireHttpError)
    expect((stream.error as TaskwireHttpError).status).toBe(503)
    expect((stream.error as TaskwireHttpError).retryAfterMs).toBe(7000)
    // Retry-After is a floor: 7000 + floor(0.5 × 500) of jitter on top.
    await vi.advanceTimersByTimeAsync(7249)
    expect(server.requests).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(server.requests).toHaveLength(2)
    await tick()
    expect(stream.status).toBe('open')
    expect(stream.error).toBeNull()
    // Retried failures are state, not errors to report.
    expect(errors).toEqual([])
  })

  it.each([500, 502, 504, 429, 408])('retries after HTTP %i', async (status) => {
    server.reply({ kind: 'status', status })
    const stream = open()
    await tick()
    expect(stream.status).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(250)
    expect(server.requests).toHaveLength(2)
  })

  it('retries after a network error and after a broken body', async () => {
    server.reply({ kind: 'network' })
    const stream = open()
    await tick()
    expect(stream.error?.code).toBe('network')
    await vi.advanceTimersByTimeAsync(500)
    expect(stream.status).toBe('open')
    server.last.fail()
    await tick()
    expect(stream.status).toBe('reconnecting')
    expect(stream.error?.code).toBe('network')
  })

  it.each([
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'http-status'],
    [400, 'http-status'],
  ] as const)('stops for good on HTTP %i', async (status, code) => {
    server.reply({ kind: 'status', status })
    const stream = open()
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.error).toBeInstanceOf(TaskwireHttpError)
    expect(stream.error?.code).toBe(code)
    expect((stream.error as TaskwireHttpError).status).toBe(status)
    expect(errors).toEqual([stream.error])
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(server.requests).toHaveLength(1)
  })

  it('stops for good on a response that is not an event stream', async () => {
    server.reply({ kind: 'stream', contentType: 'text/html' })
    const stream = open()
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.error?.code).toBe('invalid-content-type')
    expect(server.open).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('retries a 401 once with refreshed headers when retryOn401 is set', async () => {
    server.reply({ kind: 'status', status: 401 }, { kind: 'stream' })
    let token = 0
    const stream = open({ retryOn401: true, headers: async () => ({ authorization: `Bearer ${++token}` }) })
    await tick()
    await tick()
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer 1', 'Bearer 2'])
    expect(stream.status).toBe('open')
  })

  it('gives up when the retried 401 is answered 401 again', async () => {
    server.reply({ kind: 'status', status: 401 }, { kind: 'status', status: 401 })
    const stream = open({ retryOn401: true, headers: () => ({ authorization: 'Bearer stale' }) })
    await tick()
    await tick()
    expect(stream.status).toBe('closed')
    expect((stream.error as TaskwireHttpError).status).toBe(401)
    expect(server.requests).toHaveLength(2)
  })

  it('calls the headers function before every attempt', async () => {
    const headers = vi.fn(() => ({ authorization: 'Bearer x' }))
    open({ headers })
    await tick()
    server.last.end()
    await vi.advanceTimersByTimeAsync(250)
    expect(headers).toHaveBeenCalledTimes(2)
    expect(server.last.headers.authorization).toBe('Bearer x')
  })

  it('sends the method, body and headers it was given', async () => {
    open({ method: 'post', body: '{"agents":["a"]}', headers: { 'content-type': 'application/json' } })
    await tick()
    expect(server.last.method).toBe('POST')
    expect(server.last.body).toBe('{"agents":["a"]}')
    expect(server.last.headers['content-type']).toBe('application/json')
  })

  it("lets a caller's Accept, in any case, replace the default rather than join it", async () => {
    open({ headers: { Accept: 'text/event-stream; version=2', 'X-Trace': 't1' } })
    await tick()
    expect(server.last.headers.accept).toBe('text/event-stream; version=2')
    expect(server.last.headers['x-trace']).toBe('t1')
  })

  it('closes without error when the server answers 204', async () => {
    server.reply({ kind: 'status', status: 204 })
    const stream = open()
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.error).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('closes after a terminal event instead of reconnecting', async () => {
    const stream = open()
    await tick()
    server.last.push(progress(1) + frame(2, 'run.completed', { durationMs: 10 }) + progress(3))
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.state.status).toBe('completed')
    expect(stream.lastEventId).toBe('2')
    expect(server.open).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })
  it('closes after a snapshot of a run that already ended', async () => {
    const stream = open()
    await tick()
    const state = { ...initialRunState, status: 'failed', lastEventId: '9' }
    server.last.push(frame(9, 'stream.snapshot', { state }))
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.state.status).toBe('failed')
  })

  it("closes on the catalog's own terminal types when given a catalog", async () => {
    const catalog = defineCatalog(
      { 'run.completed': z.object({}), 'deploy.finished': z.object({ ok: z.boolean() }) },
      { terminal: ['deploy.finished'] },
    )
    const handle = connect('https://api.test/jobs/1/events', {
      catalog,
      validate: 'passthrough',
      transport: fetchTransport,
      fetch: server.fetch,
      random: () => 0.5,
      onError: (error) => errors.push(error),
    })
    handles.push(handle)
    const stream = started(handle)
    await tick()
    server.last.push(frame(1, 'run.completed', {}))
    await tick()
    expect(stream.status).toBe('open')
    server.last.push(frame(2, 'deploy.finished', { ok: true }))
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.lastEventId).toBe('2')
  })

  it('keeps reconnecting after terminal events when closeOn is false', async () => {
    const stream = open({ closeOn: false })
    await tick()
    server.last.push(frame(1, 'run.completed', {}))
    await tick()
    expect(stream.status).toBe('open')
  })

  it('treats silence past heartbeatTimeoutMs as a dead connection', async () => {
    const stream = open({ heartbeatTimeoutMs: 45_000 })
    await tick()
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(15_000)
      server.last.push(': hb\n\n')
    }
    await tick()
    expect(stream.status).toBe('open')
    expect(server.requests).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(45_000)
    expect(stream.error?.code).toBe('timeout')
    expect(server.requests[0]?.released).toBe(true)
    await vi.advanceTimersByTimeAsync(250)
    expect(server.requests).toHaveLength(2)
  })

  it('times out an attempt whose response never comes', async () => {
    server.reply({ kind: 'hang' })
    const stream = open({ openTimeoutMs: 10_000, heartbeatTimeoutMs: false })
    await vi.advanceTimersByTimeAsync(9999)
    expect(stream.status).toBe('connecting')
    await vi.advanceTimersByTimeAsync(1)
    expect(stream.status).toBe('reconnecting')
    expect(stream.error?.code).toBe('timeout')
    expect(server.requests[0]?.released).toBe(true)
  })

  it('skips an invalid event, reports it to onInvalid and goes on', async () => {
    const invalid: unknown[] = []
    const stream = open({
      catalog: defaultCatalog,
      onInvalid: (error, message) => invalid.push([error, message.id]),
    })
    const ids: string[] = []
    stream.on('*', (event) => ids.push(event.id))
    await tick()
    server.last.push(
      progress(1) +
        frame(2, 'task.progress', { taskId: 't1', percent: 500 }) +
        'id: 3\ndata: not json\n\n' +
        frame(4, 'no.such.type', {}) +
        progress(5),
    )
    await tick()
    expect(ids).toEqual(['1', '5'])
    expect(invalid).toHaveLength(3)
    expect(invalid.every((entry) => (entry as unknown[])[0] instanceof TaskwireValidationError)).toBe(true)
    expect(invalid.map((entry) => (entry as unknown[])[1])).toEqual(['2', '3', '4'])
    expect(stream.stats().invalid).toBe(3)
    expect(stream.status).toBe('open')
    expect(errors).toEqual([])
  })

  it('stops with event-too-large instead of buffering an endless event', async () => {
    const stream = open({ maxEventChars: 1000 })
    await tick()
    server.last.push(progress(1))
    server.last.push(`data: ${'x'.repeat(600)}`)
    server.last.push('x'.repeat(600))
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.error?.code).toBe('event-too-large')
    expect(stream.lastEventId).toBe('1')
    expect(server.open).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('reports invalid events to onError when there is no onInvalid', async () => {
    open()
    await tick()
    server.last.push('id: 1\ndata: {}\n\n')
    await tick()
    expect(errors).toHaveLength(1)
    expect(isTaskwireError(errors[0]) && errors[0].code).toBe('invalid-frame')
  })

  it('delivers unknown types to on("*") in passthrough mode', async () => {
    const stream = open({ catalog: defaultCatalog, validate: 'passthrough' })
    const types: string[] = []
    stream.on('*', (event) => types.push(event.type))
    await tick()
    server.last.push(frame(1, 'deploy.promoted', { env: 'prod' }) + frame(2, 'task.progress', { taskId: '' }))
    await tick()
    expect(types).toEqual(['deploy.promoted'])
    expect(errors).toHaveLength(1)
  })

  it('skips schema checks when validate is false', async () => {
    const stream = open({ catalog: defaultCatalog, validate: false })
    const seen: unknown[] = []
    stream.on('*', (event) => seen.push(event.data))
    await tick()
    server.last.push(frame(1, 'task.progress', { taskId: 't', percent: 500 }))
    await tick()
    expect(seen).toEqual([{ taskId: 't', percent: 500 }])
  })

  it('reports a throwing handler to onError and keeps the stream and other handlers going', async () => {
    const stream = open()
    const ids: string[] = []
    stream.on('task.progress', () => {
      throw new Error('boom')
    })
    stream.on('task.progress', (event) => ids.push(event.id))
    await tick()
    server.last.push(progress(1) + progress(2))
    await tick()
    expect(ids).toEqual(['1', '2'])
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom', 'boom'])
    expect(stream.status).toBe('open')
  })

  it('stops everything when close() is called inside a handler', async () => {
    const stream = open()
    const seen: string[] = []
    stream.on('task.progress', (event) => {
      seen.push(`a${event.id}`)
      if (event.id === '2') stream.close()
    })
    stream.on('task.progress', (event) => seen.push(`b${event.id}`))
    const iterated: string[] = []
    const reading = (async () => {
      for await (const event of stream) iterated.push(event.id)
    })()
    await tick()
    server.last.push(progress(1) + progress(2) + progress(3))
    await tick()
    await reading
    expect(seen).toEqual(['a1', 'b1', 'a2'])
    expect(iterated).toEqual(['1', '2'])
    expect(stream.status).toBe('closed')
    expect(server.open).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(server.requests).toHaveLength(1)
  })

  it('leaves no timer and no open body after close() while reconnecting', async () => {
    server.reply({ kind: 'network' })
    const stream = open()
    await tick()
    expect(vi.getTimerCount()).toBeGreaterThan(0)
    stream.close()
    stream.close()
    expect(vi.getTimerCount()).toBe(0)
    expect(server.open).toBe(0)
    expect(stream.status).toBe('closed')
  })

  it('closes when the given AbortSignal aborts', async () => {
    const controller = new AbortController()
    const stream = open({ signal: controller.signal })
    await tick()
    controller.abort()
    expect(stream.status).toBe('closed')
    expect(server.open).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('removes its listener from the given AbortSignal on close()', async () => {
    const controller = new AbortController()
    const stream = open({ signal: controller.signal })
    await tick()
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    stream.close()
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('does not connect at all when the signal is already aborted', () => {
    const stream = open({ signal: AbortSignal.abort() })
    expect(stream.status).toBe('closed')
    expect(server.requests).toHaveLength(0)
  })

  it('reconnects on demand with reconnect(), resuming from the last id', async () => {
    const stream = open()
    await tick()
    server.last.push(progress(1))
    await tick()
    stream.reconnect()
    expect(server.requests[0]?.released).toBe(true)
    await tick()
    expect(server.requests).toHaveLength(2)
    expect(server.last.headers['last-event-id']).toBe('1')
    expect(stream.status).toBe('open')
  })

  it('resumes cleanly when a handler calls reconnect() in the middle of a chunk', async () => {
    const stream = open()
    const ids: string[] = []
    stream.on('task.progress', (event) => {
      ids.push(event.id)
      if (event.id === '1' && ids.length === 1) stream.reconnect()
    })
    await tick()
    server.last.push(`${progress(1)}${progress(2)}data: {"half`)
    await tick()
    expect(ids).toEqual(['1'])
    expect(server.requests).toHaveLength(2)
    expect(server.last.headers['last-event-id']).toBe('1')
    server.last.push(progress(2))
    await tick()
    expect(ids).toEqual(['1', '2'])
    expect(stream.stats().invalid).toBe(0)
  })

  it('resumes after the lastEventId option on the first attempt', async () => {
    open({ lastEventId: '41' })
    await tick()
    expect(server.last.headers['last-event-id']).toBe('41')
  })

  it('closes with a network error on a clean end when backoff is false', async () => {
    const stream = open({ backoff: false })
    await tick()
    server.last.end()
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.error?.code).toBe('network')
    expect(errors).toEqual([stream.error])
  })

  it('stops for good on a 2xx other than 200', async () => {
    server.reply({ kind: 'status', status: 202 })
    const stream = open()
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.error?.code).toBe('http-status')
    expect((stream.error as TaskwireHttpError).status).toBe(202)
  })

  it('closes on the first drop when backoff is false', async () => {
    const stream = open({ backoff: false })
    await tick()
    server.last.fail()
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.error?.code).toBe('network')
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('a stream on a fake fetch', () => {
  let server: ReturnType<typeof createFakeFetch>
  beforeEach(() => {
    vi.useFakeTimers()
    server = createFakeFetch()
  })
  afterEach(() => {
    vi.useRealTimers()
  })
  const open = () =>
    started(
      connect('https://api.test/s', {
        transport: fetchTransport,
        fetch: server.fetch,
        onError: () => {},
      }),
    )

  describe('the store interface', () => {
    it('keeps the snapshot identity until something changes, and notifies once per chunk', async () => {
      const stream = open()
      const first = stream.getSnapshot()
      expect(stream.getSnapshot()).toBe(first)
      expect(Object.isFrozen(first)).toBe(true)
      const snapshots: unknown[] = []
      const unsubscribe = stream.subscribe(() => snapshots.push(stream.getSnapshot()))
      await tick()
      expect(snapshots).toHaveLength(1)
      const opened = stream.getSnapshot()
      expect(opened).not.toBe(first)
      expect(opened.status).toBe('open')
      // The hub's first chunk, `retry:`, settles the resync (a change of its own). Counting
      // starts after it: the first chunk's double notification is a test of its own below.
      server.last.push('retry: 1000\n\n')
      await tick()
      expect(snapshots).toHaveLength(2)
      expect(stream.getSnapshot().resync).toEqual({ kind: 'fresh' })
      server.last.push(progress(1) + progress(2) + progress(3))
      await tick()
      expect(snapshots).toHaveLength(3)
      expect(stream.getSnapshot().lastEventId).toBe('3')
      server.last.push(': hb\n\n')
      await tick()
      expect(snapshots).toHaveLength(3)
      server.last.push(progress(2))
      await tick()
      expect(snapshots).toHaveLength(3)
      unsubscribe()
      server.last.push(progress(4))
      await tick()
      expect(snapshots).toHaveLength(3)
      expect(stream.getSnapshot()).toMatchObject({ status: 'open', lastEventId: '4', error: null })
      stream.close()
      expect(stream.getSnapshot().status).toBe('closed')
    })
  })
  it('notifies once for the first chunk after an open, its resync included', async () => {
    const stream = connect('https://api.test/s', {
      transport: fetchTransport,
      fetch: server.fetch,
      onError: () => {},
    })
    const snapshots: unknown[] = []
    stream.subscribe(() => snapshots.push(stream.getSnapshot()))
    await tick()
    const before = snapshots.length
    server.last.push(progress(1) + progress(2))
    await tick()
    expect(snapshots.length - before).toBe(1)
    expect(snapshots.at(-1)).toMatchObject({ lastEventId: '2', resync: { kind: 'fresh' } })
    stream.close()
  })

  describe('async iteration', () => {
    it('yields events in order and ends when the run ends', async () => {
      const stream = open()
      const ids: string[] = []
      const reading = (async () => {
        for await (const event of stream) ids.push(`${event.type}#${event.id}`)
      })()
      await tick()
      server.last.push(progress(1) + progress(2) + frame(3, 'run.cancelled', {}))
      await reading
      expect(ids).toEqual(['task.progress#1', 'task.progress#2', 'run.cancelled#3'])
    })

    it('throws the fatal error after the buffered events', async () => {
      server.reply({ kind: 'status', status: 403 })
      const stream = open()
      const iterator = stream[Symbol.asyncIterator]()
      await tick()
      await expect(iterator.next()).rejects.toMatchObject({ status: 403 })
    })

    it('fails a consumer that falls iteratorBufferSize events behind, without stopping the stream', async () => {
      const stream = connect('https://api.test/s', {
        transport: fetchTransport,
        fetch: server.fetch,
        onError: () => {},
        iteratorBufferSize: 2,
      })
      const iterator = stream[Symbol.asyncIterator]()
      // Another subscriber, which the slow iterator must not cut off.
      const ids: string[] = []
      stream.on('*', (event) => ids.push(event.id))
      await tick()
      server.last.push(progress(1) + progress(2) + progress(3))
      await tick()
      await expect(iterator.next()).resolves.toMatchObject({ value: { id: '1' } })
      await expect(iterator.next()).resolves.toMatchObject({ value: { id: '2' } })
      await expect(iterator.next()).rejects.toMatchObject({ code: 'slow-consumer' })
      await vi.advanceTimersByTimeAsync(1000)
      expect(stream.status).toBe('open')
      expect(stream.lastEventId).toBe('3')
      server.last.push(progress(4))
      await tick()
      expect(ids).toEqual(['1', '2', '3', '4'])
      stream.close()
    })

    it('stops buffering for a consumer that breaks out of the loop', async () => {
      const stream = open()
      await tick()
      server.last.push(progress(1) + progress(2))
      for await (const event of stream) {
        expect(event.id).toBe('1')
        break
      }
      expect(stream.status).toBe('open')
      stream.close()
    })
  })
})
