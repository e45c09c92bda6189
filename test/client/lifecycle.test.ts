import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { connect } from '../../src/client/connect.js'
import { createRunStore } from '../../src/client/run-store.js'
import type { Resync, StreamHandle } from '../../src/client/stream-handle.js'
import { fetchTransport } from '../../src/client/transports/fetch.js'
import { isTaskwireError } from '../../src/core/index.js'
import { createFakeFetch, fakeFetchSuite, frame } from './fakes.js'

const tick = () => vi.advanceTimersByTimeAsync(0)

describe('a stream handle is a store that is inert until watched', () => {
  const suite = fakeFetchSuite({ random: () => 0.5 })
  const open = suite.connect

  it('opens no connection when created, and exactly one for its first subscriber', async () => {
    const stream = open()
    const tapped: string[] = []
    stream.tap((event) => tapped.push(event.id))
    stream.getSnapshot()
    await vi.advanceTimersByTimeAsync(5000)
    expect(suite.server.requests).toHaveLength(0)
    expect(stream.status).toBe('idle')
    const stop = stream.on('*', () => {})
    stream.subscribe(() => {})
    await tick()
    expect(suite.server.requests).toHaveLength(1)
    expect(stream.status).toBe('open')
    suite.server.last.push(frame(1, 'task.created', { taskId: 'a' }))
    await tick()
    expect(tapped).toEqual(['1'])
    stop()
  })

  it("reuses the connection when the last subscriber leaves and one comes back within the linger (StrictMode's pattern)", async () => {
    const stream = open({ lingerMs: 100 })
    const first = stream.subscribe(() => {})
    await tick()
    first()
    const second = stream.subscribe(() => {})
    await vi.advanceTimersByTimeAsync(1000)
    expect(suite.server.requests).toHaveLength(1)
    expect(suite.server.last.released).toBe(false)
    expect(stream.status).toBe('open')
    second()
  })

  it('disconnects after the linger once unwatched, goes idle, and resumes from its cursor when watched again', async () => {
    const stream = open({ lingerMs: 100 })
    const stop = stream.on('task.created', () => {})
    await tick()
    suite.server.last.push(frame(7, 'task.created', { taskId: 'a' }))
    await tick()
    stop()
    await vi.advanceTimersByTimeAsync(99)
    expect(suite.server.last.released).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(suite.server.last.released).toBe(true)
    expect(stream.status).toBe('idle')
    expect(stream.error).toBeNull()
    expect(suite.server.open).toBe(0)
    stream.subscribe(() => {})
    await tick()
    expect(suite.server.requests).toHaveLength(2)
    expect(suite.server.last.headers['last-event-id']).toBe('7')
    expect(stream.status).toBe('open')
  })

  it('counts async iteration as a subscriber until the loop ends', async () => {
    const stream = open({ lingerMs: 0 })
    const loop = (async () => {
      for await (const event of stream) if (event.id === '2') break
    })()
    await tick()
    expect(suite.server.requests).toHaveLength(1)
    suite.server.last.push(
      frame(1, 'task.created', { taskId: 'a' }) + frame(2, 'task.created', { taskId: 'b' }),
    )
    await loop
    await tick()
    expect(suite.server.last.released).toBe(true)
    expect(stream.status).toBe('idle')
  })

  it('keeps the snapshot identity until something changes, and gives a server snapshot that never connects', async () => {
    const stream = open({ lastEventId: '3' })
    const server0 = stream.getServerSnapshot()
    expect(server0).toEqual({ status: 'idle', lastEventId: '3', error: null, resync: null })
    expect(stream.getServerSnapshot()).toBe(server0)
    const before = stream.getSnapshot()
    expect(stream.getSnapshot()).toBe(before)
    stream.subscribe(() => {})
    await tick()
    const opened = stream.getSnapshot()
    expect(opened).not.toBe(before)
    expect(stream.getSnapshot()).toBe(opened)
    expect(stream.getServerSnapshot()).toBe(server0)
  })

  it('ends for good on close(), and no later subscriber opens it again', async () => {
    const stream = open()
    stream.subscribe(() => {})
    await tick()
    stream.close()
    expect(stream.status).toBe('closed')
    stream.on('*', () => {})
    await vi.advanceTimersByTimeAsync(60_000)
    expect(suite.server.requests).toHaveLength(1)
    expect(suite.server.open).toBe(0)
  })

  it('folds events into a run store that keeps its state identity between changes', async () => {
    const stream = open()
    const run = createRunStore(stream)
    expect(run.getState()).toBe(run.initialState)
    let notified = 0
    run.subscribe(() => notified++)
    await tick()
    suite.server.last.push(
      frame(1, 'task.created', { taskId: 'a', title: 'A' }) +
        frame(2, 'task.status', { taskId: 'a', status: 'completed' }),
    )
    await tick()
    expect(notified).toBe(1)
    const state = run.getState()
    expect(state.tasks).toMatchObject([{ id: 'a', title: 'A', status: 'completed' }])
    expect(run.getState()).toBe(state)
    suite.server.last.push(': hb\n\n')
    await tick()
    expect(notified).toBe(1)
  })
})

describe('the resync signal', () => {
  let server: ReturnType<typeof createFakeFetch>
  let stream: StreamHandle
  let seen: Resync[]

  beforeEach(() => {
    vi.useFakeTimers()
    server = createFakeFetch()
    seen = []
    stream = connect('https://api.test/jobs/1/events', {
      transport: fetchTransport,
      fetch: server.fetch,
      random: () => 0,
      backoff: { initialMs: 10, maxMs: 10 },
      onError: () => {},
    })
    stream.onResync((resync) => seen.push(resync))
  })
  afterEach(() => {
    stream.close()
    vi.useRealTimers()
  })

  const reconnectWith = async (text: string): Promise<void> => {
    server.last.end()
    await vi.advanceTimersByTimeAsync(10)
    server.last.push(`retry: 10\n\n${text}`)
    await tick()
  }

  it('tells how each connection continued: fresh, replayed, resumed, reset', async () => {
    await tick()
    server.last.push(`retry: 10\n\n${frame(1, 'task.created', { taskId: 'a' })}`)
    await tick()
    await reconnectWith(frame(2, 'task.created', { taskId: 'b' }) + frame(3, 'task.created', { taskId: 'c' }))
    expect(server.last.headers['last-event-id']).toBe('1')
    await reconnectWith('')
    const state = { status: 'idle', tasks: [] }
    await reconnectWith(frame(9, 'stream.reset', { state, reason: 'cursor-unknown' }))
    expect(seen).toEqual([
      { kind: 'fresh' },
      { kind: 'replayed', events: 2 },
      { kind: 'resumed' },
      { kind: 'reset', reason: 'cursor-unknown' },
    ])
    expect(stream.getSnapshot().resync).toEqual({ kind: 'reset', reason: 'cursor-unknown' })
  })

  it('reports a snapshot sent first', async () => {
    await tick()
    server.last.push(`retry: 10\n\n${frame(4, 'stream.snapshot', { state: { status: 'running' } })}`)
    await tick()
    expect(seen).toEqual([{ kind: 'snapshot' }])
  })
})

describe('setup mistakes fail at once', () => {
  it('refuses a relative URL where there is no page to resolve it against', () => {
    const error = (() => {
      try {
        connect('/api/jobs/1/events', { transport: fetchTransport, fetch: async () => new Response() })
      } catch (caught) {
        return caught
      }
      return undefined
    })()
    expect(isTaskwireError(error) && error.code).toBe('invalid-option')
    expect(String((error as Error).message)).toMatch(/relative/)
  })

  it.each([['sse'], ['fetch'], [{}]])(
    'refuses a transport that is not a transport value (%j)',
    (transport) => {
      expect(() =>
        connect('https://api.test/events', {
          transport: transport as never,
          fetch: async () => new Response(),
        }),
      ).toThrow(expect.objectContaining({ code: 'invalid-option' }))
    },
  )

  it('refuses validate without a catalog, and options out of range', () => {
    const base = { transport: fetchTransport, fetch: async () => new Response() }
    expect(() => connect('https://api.test/e', { ...base, validate: 'strict' })).toThrow(/catalog/)
    expect(() => connect('https://api.test/e', { ...base, backoff: { initialMs: 0 } })).toThrow(/initialMs/)
    expect(() => connect('https://api.test/e', { ...base, openTimeoutMs: 0 })).toThrow(/openTimeoutMs/)
  })
})
