import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { connect } from '../../../src/client/connect.js'
import { pollingTransport } from '../../../src/client/transports/polling.js'
import { initialRunState, type TaskwireHttpError } from '../../../src/core/index.js'
import { createFakeFetch, envelope, started } from '../fakes.js'

const tick = () => vi.advanceTimersByTimeAsync(0)

describe('connect over polling', () => {
  let server: ReturnType<typeof createFakeFetch>
  beforeEach(() => {
    vi.useFakeTimers()
    server = createFakeFetch()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  function open(extra: Parameters<typeof connect>[1] = {}) {
    return started(
      connect('https://api.test/jobs/1/updates', {
        transport: pollingTransport,
        fetch: server.fetch,
        pollIntervalMs: 1000,
        random: () => 0.5,
        onError: () => {},
        ...extra,
      }),
    )
  }

  const page = (ids: number[], ended = false) => ({
    kind: 'json' as const,
    body: {
      events: ids.map((id) => envelope(id, 'task.progress', { taskId: 't', percent: id })),
      lastEventId: ids.length ? String(ids.at(-1)) : null,
      ended,
    },
  })

  it('polls with ?since= the last id at the interval and delivers each event once', async () => {
    server.reply(page([1, 2]), page([3]), page([]))
    const stream = open()
    const ids: string[] = []
    stream.on('*', (event) => ids.push(event.id))
    await tick()
    expect(stream.status).toBe('open')
    expect(server.requests[0]?.url).toBe('https://api.test/jobs/1/updates')
    expect(server.requests[0]?.headers.accept).toBe('application/json')
    await vi.advanceTimersByTimeAsync(1000)
    expect(server.requests[1]?.url).toBe('https://api.test/jobs/1/updates?since=2')
    await vi.advanceTimersByTimeAsync(1000)
    expect(server.requests[2]?.url).toBe('https://api.test/jobs/1/updates?since=3')
    expect(ids).toEqual(['1', '2', '3'])
    stream.close()
  })

  it('stops polling when the answer says ended', async () => {
    server.reply(page([1], true))
    const stream = open()
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.error).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('replaces its state with a reset answer', async () => {
    const state = { ...initialRunState, status: 'running' as const, lastEventId: '90' }
    server.reply({ kind: 'json', body: { events: [], lastEventId: '90', ended: false, reset: state } })
    const stream = open({ lastEventId: '3' })
    await tick()
    expect(stream.state.status).toBe('running')
    expect(stream.lastEventId).toBe('90')
    stream.close()
  })

  it('backs off after a failed poll and resumes from the last id', async () => {
    server.reply(page([1]), { kind: 'status', status: 502 })
    const stream = open()
    await tick()
    await vi.advanceTimersByTimeAsync(1000)
    expect(stream.status).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(250)
    expect(server.last.url).toBe('https://api.test/jobs/1/updates?since=1')
    stream.close()
  })

  it('stops for good on 403', async () => {
    server.reply({ kind: 'status', status: 403 })
    const stream = open()
    await tick()
    expect(stream.status).toBe('closed')
    expect((stream.error as TaskwireHttpError).status).toBe(403)
  })

  it('stops when the answer is not a poll body', async () => {
    server.reply({ kind: 'json', body: { hello: 'world' } })
    const stream = open()
    await tick()
    expect(stream.status).toBe('closed')
    expect(stream.error?.code).toBe('invalid-frame')
  })

  it('pauses the watchdog between polls, so a long interval is not silence', async () => {
    const stream = open({ pollIntervalMs: 60_000, heartbeatTimeoutMs: 5000 })
    server.reply(page([]), page([]))
    await tick()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(stream.status).toBe('open')
    expect(server.requests).toHaveLength(2)
    stream.close()
    expect(vi.getTimerCount()).toBe(0)
  })
})
