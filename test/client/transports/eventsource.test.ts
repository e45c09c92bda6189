import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { connect } from '../../../src/client/connect.js'
import type { EventSourceMessageEvent } from '../../../src/client/options.js'
import { autoTransport } from '../../../src/client/transports/auto.js'
import { eventSourceTransport } from '../../../src/client/transports/eventsource.js'
import type { TaskwireHttpError } from '../../../src/core/index.js'
import { createFakeFetch, envelope, started } from '../fakes.js'

type Listener = (event: EventSourceMessageEvent) => void

/** A scriptable EventSource that counts its listeners and open instances. */
class FakeEventSource {
  static instances: FakeEventSource[] = []
  readyState = 0
  closed = false
  readonly listeners = new Map<string, Set<Listener>>()
  constructor(
    readonly url: string,
    readonly init?: { withCredentials?: boolean },
  ) {
    FakeEventSource.instances.push(this)
  }
  static get last(): FakeEventSource {
    const last = FakeEventSource.instances.at(-1)
    if (!last) throw new Error('no EventSource yet')
    return last
  }
  static get listenerCount(): number {
    return FakeEventSource.instances.reduce(
      (sum, source) => sum + [...source.listeners.values()].reduce((n, set) => n + set.size, 0),
      0,
    )
  }
  addEventListener(type: string, listener: Listener): void {
    let set = this.listeners.get(type)
    if (!set) {
      set = new Set()
      this.listeners.set(type, set)
    }
    set.add(listener)
  }
  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener)
  }
  close(): void {
    this.closed = true
    this.readyState = 2
  }
  emit(type: string, event: Partial<EventSourceMessageEvent> & Record<string, unknown> = {}): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener({ type, data: '', ...event })
  }
  open(): void {
    this.readyState = 1
    this.emit('open')
  }
  /** Dispatches a frame: data-only ones reach `message`, named ones only their name. */
  send(id: number, type: string, data: unknown, named = false): void {
    const env = envelope(id, type, data)
    this.emit(named ? type : 'message', { data: JSON.stringify(env), lastEventId: String(id) })
  }
  fail(readyState: number, code?: number): void {
    this.readyState = readyState
    this.emit('error', code === undefined ? {} : { code })
  }
}

const tick = () => vi.advanceTimersByTimeAsync(0)
const STREAM_URL = 'http://api.test/api/jobs/1/events'

describe('connect over EventSource', () => {
  let errors: unknown[]
  beforeEach(() => {
    vi.useFakeTimers()
    FakeEventSource.instances = []
    errors = []
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  function open(extra: Parameters<typeof connect>[1] = {}) {
    return started(
      connect(STREAM_URL, {
        transport: autoTransport,
        EventSource: FakeEventSource,
        random: () => 0.5,
        onError: (error) => errors.push(error),
        ...extra,
      }),
    )
  }

  it('is what auto picks for a plain GET when a constructor exists', () => {
    const stream = open()
    expect(FakeEventSource.instances).toHaveLength(1)
    stream.close()
  })

  it('picks fetch instead when headers are given', async () => {
    const server = createFakeFetch()
    const stream = open({ headers: { authorization: 'x' }, fetch: server.fetch })
    await tick()
    expect(FakeEventSource.instances).toHaveLength(0)
    expect(server.requests).toHaveLength(1)
    stream.close()
  })

  it('asks for data-only frames, listens to message only, and delivers every type', () => {
    const stream = open()
    const source = FakeEventSource.last
    expect(source.url).toBe(`${STREAM_URL}?framing=data-only`)
    expect(
      [...source.listeners]
        .filter(([, set]) => set.size > 0)
        .map(([type]) => type)
        .sort(),
    ).toEqual(['error', 'message', 'open'])
    const ids: string[] = []
    stream.on('*', (event) => ids.push(event.id))
    source.open()
    expect(stream.status).toBe('open')
    source.send(1, 'task.created', { taskId: 'a' })
    source.send(2, 'task.created', { taskId: 'b' })
    // A type outside any catalog still arrives, since data-only frames all reach `message`.
    source.send(3, 'deploy.promoted', { env: 'prod' })
    expect(ids).toEqual(['1', '2', '3'])
    expect(stream.state.tasks.map((task) => task.id)).toEqual(['a', 'b'])
    stream.close()
  })

  it('closes the native source on an error and reconnects itself with ?lastEventId=', async () => {
    const stream = open()
    const first = FakeEventSource.last
    first.open()
    first.send(7, 'task.progress', { taskId: 't' })
    first.fail(0)
    expect(first.closed).toBe(true)
    expect(stream.status).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(250)
    expect(FakeEventSource.instances).toHaveLength(2)
    expect(FakeEventSource.last.url).toBe(`${STREAM_URL}?framing=data-only&lastEventId=7`)
    stream.close()
  })

  it('refuses at connect() what an EventSource cannot send', () => {
    const options = { transport: eventSourceTransport, EventSource: FakeEventSource }
    expect(() => connect(STREAM_URL, { ...options, method: 'POST' })).toThrowError(/GET/)
    expect(() => connect(STREAM_URL, { ...options, body: 'x' })).toThrowError(/GET/)
    expect(() =>
      connect(STREAM_URL, { transport: eventSourceTransport, EventSource: undefined }),
    ).toThrowError(/EventSource/)
    expect(FakeEventSource.instances).toHaveLength(0)
  })

  it('sets withCredentials when credentials are included', () => {
    const stream = open({ credentials: 'include' })
    expect(FakeEventSource.last.init).toEqual({ withCredentials: true })
    stream.close()
  })

  it.each([401, 403, 404])('stops for good when the eventsource package reports HTTP %i', async (status) => {
    const stream = open()
    FakeEventSource.last.fail(2, status)
    expect(stream.status).toBe('closed')
    expect((stream.error as TaskwireHttpError).status).toBe(status)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(FakeEventSource.instances).toHaveLength(1)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('stops on a wrong content type reported by the eventsource package', () => {
    const stream = open()
    FakeEventSource.last.fail(2, 200)
    expect(stream.status).toBe('closed')
    expect(stream.error?.code).toBe('invalid-content-type')
  })

  it('ends without error on 204', () => {
    const stream = open()
    FakeEventSource.last.fail(2, 204)
    expect(stream.status).toBe('closed')
    expect(stream.error).toBeNull()
  })

  it('asks fetch for the status a browser EventSource hides, and stops on 401', async () => {
    const server = createFakeFetch()
    server.reply({ kind: 'status', status: 401 })
    const stream = open({ fetch: server.fetch })
    FakeEventSource.last.fail(2)
    await tick()
    expect(server.requests[0]?.url).toBe(`${STREAM_URL}?framing=data-only`)
    expect(stream.status).toBe('closed')
    expect((stream.error as TaskwireHttpError).status).toBe(401)
  })

  it('retries after the probe finds a 503', async () => {
    const server = createFakeFetch()
    server.reply({
      kind: 'status',
      status: 503,
      headers: { 'retry-after': '2', 'content-type': 'application/json' },
    })
    const stream = open({ fetch: server.fetch })
    FakeEventSource.last.fail(2)
    await tick()
    expect(stream.status).toBe('reconnecting')
    // Retry-After is a floor: 2000 + floor(0.5 × 500) of jitter on top.
    await vi.advanceTimersByTimeAsync(2249)
    expect(FakeEventSource.instances).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(FakeEventSource.instances).toHaveLength(2)
    stream.close()
  })

  it('runs without a watchdog, since EventSource hides heartbeat comments', async () => {
    const stream = open()
    FakeEventSource.last.open()
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(120_000)
    expect(stream.status).toBe('open')
    stream.close()
  })

  it('removes every listener and closes the source on close(), even from a handler', () => {
    const stream = open()
    const source = FakeEventSource.last
    source.open()
    stream.on('task.progress', () => stream.close())
    source.send(1, 'task.progress', { taskId: 't' })
    expect(stream.status).toBe('closed')
    expect(source.closed).toBe(true)
    expect(FakeEventSource.listenerCount).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('closes after a terminal event without reconnecting', async () => {
    const stream = open()
    FakeEventSource.last.open()
    FakeEventSource.last.send(3, 'run.failed', { error: { message: 'x' } })
    expect(stream.status).toBe('closed')
    await vi.advanceTimersByTimeAsync(60_000)
    expect(FakeEventSource.instances).toHaveLength(1)
  })
})
