import { describe, expect, it, vi } from 'vitest'
import { MAX_SERVER_DELAY_MS } from '../../src/client/backoff.js'
import type { ConnectOptions } from '../../src/client/options.js'
import type { StreamHandle } from '../../src/client/stream-handle.js'
import type { DefaultCatalog } from '../../src/core/index.js'
import { fakeFetchSuite } from './fakes.js'

const tick = () => vi.advanceTimersByTimeAsync(0)

describe('no server value makes the client hammer', () => {
  const suite = fakeFetchSuite()

  function watch(options: ConnectOptions<DefaultCatalog> = {}): StreamHandle {
    const handle = suite.connect(options)
    handle.subscribe(() => {})
    return handle
  }

  it('treats retry: as a floor, with the jitter on top, never below', async () => {
    watch({ random: () => 0 })
    await tick()
    suite.server.last.push('retry: 2000\n\n')
    await tick()
    suite.server.last.end()
    await vi.advanceTimersByTimeAsync(1999)
    expect(suite.server.requests).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(suite.server.requests).toHaveLength(2)
  })

  it('keeps backoff growing when the server sends retry: 0', async () => {
    watch({ random: () => 0.99 })
    let answered = 0
    for (let step = 0; step < 40; step++) {
      await tick()
      // Each new attempt is told retry: 0 and dropped at once, as a hostile server would.
      if (suite.server.requests.length > answered) {
        answered = suite.server.requests.length
        suite.server.last.push('retry: 0\n\n')
        await tick()
        suite.server.last.end()
      }
      await vi.advanceTimersByTimeAsync(250)
    }
    // 10 s of windows doubling from 500 ms: a handful of attempts, not thousands.
    expect(suite.server.requests.length).toBeGreaterThanOrEqual(4)
    expect(suite.server.requests.length).toBeLessThanOrEqual(7)
  })

  it.each([
    ['a Retry-After of more seconds than a timer can hold', { 'retry-after': '99999999999' }],
    ['a Retry-After date years away', { 'retry-after': 'Fri, 01 Jan 2100 00:00:00 GMT' }],
  ])('clamps %s to five minutes instead of firing at once', async (_, headers) => {
    const warnings = vi.spyOn(process, 'emitWarning')
    suite.server.reply({
      kind: 'status',
      status: 503,
      headers: { 'content-type': 'application/json', ...headers },
    })
    watch({ random: () => 0 })
    await vi.advanceTimersByTimeAsync(MAX_SERVER_DELAY_MS - 1)
    expect(suite.server.requests).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(suite.server.requests).toHaveLength(2)
    expect(warnings).not.toHaveBeenCalled()
  })

  it('clamps a retry: larger than a timer can hold', async () => {
    watch({ random: () => 0 })
    await tick()
    suite.server.last.push('retry: 9999999999999\n\n')
    await tick()
    suite.server.last.end()
    await vi.advanceTimersByTimeAsync(MAX_SERVER_DELAY_MS - 1)
    expect(suite.server.requests).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(suite.server.requests).toHaveLength(2)
  })
})

describe('connection failures the spec names', () => {
  const suite = fakeFetchSuite()

  it.each([[201], [210], [299]])('fails the connection on a %i, without reconnecting', async (status) => {
    suite.server.reply({ kind: 'status', status, headers: { 'content-type': 'text/event-stream' } })
    const handle = suite.connect()
    handle.subscribe(() => {})
    await vi.advanceTimersByTimeAsync(60_000)
    expect(suite.server.requests).toHaveLength(1)
    expect(handle.status).toBe('closed')
    expect(handle.error).toMatchObject({ code: 'http-status', status })
  })

  it('gives up on an attempt whose response never comes after openTimeoutMs, and retries', async () => {
    suite.server.reply({ kind: 'hang' })
    const handle = suite.connect({
      openTimeoutMs: 2000,
      heartbeatTimeoutMs: false,
      random: () => 0,
    })
    handle.subscribe(() => {})
    await vi.advanceTimersByTimeAsync(1999)
    expect(handle.status).toBe('connecting')
    await vi.advanceTimersByTimeAsync(1)
    expect(handle.status).toBe('reconnecting')
    expect(handle.error).toMatchObject({ code: 'timeout' })
    expect(suite.server.requests[0]?.released).toBe(true)
    await vi.advanceTimersByTimeAsync(1)
    expect(suite.server.requests).toHaveLength(2)
  })

  it('keeps the reason when it closes on a drop with backoff off', async () => {
    const handle = suite.connect({ backoff: false })
    handle.subscribe(() => {})
    await tick()
    suite.server.last.end()
    await tick()
    expect(handle.status).toBe('closed')
    expect(handle.error).toMatchObject({ code: 'network' })
  })
})
