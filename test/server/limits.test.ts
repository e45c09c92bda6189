import { afterEach, describe, expect, it } from 'vitest'
import { TaskwireError, TaskwireHttpError } from '../../src/core/index.js'
import { createHub, type Hub, type HubOptions } from '../../src/server/index.js'
import { nextTurn } from './hub-fixtures.js'
import { seq } from './ids.js'
import { createTestSink } from './test-sink.js'

const hubs: Hub[] = []
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close()
})

function makeHub(options: HubOptions = {}): Hub {
  const hub = createHub({ heartbeatMs: false, ...options })
  hubs.push(hub)
  return hub
}

async function refusal(promise: Promise<unknown>): Promise<TaskwireHttpError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(TaskwireHttpError)
  return error as TaskwireHttpError
}

describe('hub limits', () => {
  it('refuses a subscriber past maxConnections with a 503 and retryAfterMs, and admits again once one leaves', async () => {
    const hub = makeHub({ maxConnections: 2, retryAfterMs: 3000 })
    const a = await hub.subscribe('a')
    await hub.subscribe('b')
    const error = await refusal(hub.subscribe('c'))
    expect(error).toMatchObject({ status: 503, code: 'connection-limit', retryAfterMs: 3000 })
    a?.close()
    expect(await hub.subscribe('c')).not.toBeNull()
  })

  it('refuses a subscriber past maxPerStream with a 503 stream-limit while other streams still admit', async () => {
    const hub = makeHub({ maxPerStream: 2 })
    await hub.subscribe('a')
    const second = await hub.subscribe('a')
    const error = await refusal(hub.subscribe('a'))
    expect(error).toMatchObject({ status: 503, code: 'stream-limit', retryAfterMs: 5000 })
    expect(await hub.subscribe('b')).not.toBeNull()
    second?.close()
    expect(await hub.subscribe('a')).not.toBeNull()
  })

  it('counts concurrent subscribes against the limits before any of them resolves', async () => {
    const hub = makeHub({ maxConnections: 3 })
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => hub.subscribe('a')))
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(3)
    expect(hub.stats().connections).toBe(3)
  })

  it('rejects an event whose frame is larger than maxEventBytes and publishes nothing', async () => {
    const hub = makeHub({ maxEventBytes: 1024 })
    await hub.publish('a', 'task.created', { taskId: 't', note: 'x'.repeat(800) })
    const error = await hub
      .publish('a', 'task.created', { taskId: 't', note: 'x'.repeat(1000) })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TaskwireError)
    expect((error as TaskwireError).code).toBe('event-too-large')
    // Multibyte characters count as the bytes they take on the wire.
    const wide = await hub
      .publish('a', 'task.created', { taskId: 't', note: 'é'.repeat(600) })
      .catch((caught) => caught)
    expect((wide as TaskwireError).code).toBe('event-too-large')
    expect((await hub.read('a')).events).toHaveLength(1)
  })

  it('disconnects a slow consumer while the others keep receiving, and the slow one resumes without loss', async () => {
    const hub = makeHub({ highWaterMarkBytes: 4096 })
    const slowSub = await hub.subscribe('a')
    const fastSub = await hub.subscribe('a')
    const slow = createTestSink()
    const fast = createTestSink()
    slowSub?.start(slow)
    fastSub?.start(fast)
    await hub.publish('a', 'task.created', { taskId: 't1' })
    await slow.until((s) => s.events.length === 1)
    slow.buffered = 10_000 // the socket stopped draining
    await hub.publish('a', 'task.created', { taskId: 't2' })
    expect(await slowSub?.ended).toBe('slow-consumer')
    expect(slow.ended?.error?.code).toBe('slow-consumer')
    for (let n = 3; n <= 5; n++) await hub.publish('a', 'task.created', { taskId: `t${n}` })
    await fast.until((s) => s.events.length === 5)
    expect(hub.stats().connections).toBe(1)
    const lastSeen = slow.events.at(-1)?.id ?? null
    const resumed = await hub.subscribe('a', { lastEventId: lastSeen })
    const again = createTestSink()
    resumed?.start(again)
    const got = [...slow.events, ...again.events].map((event) => seq(event.id))
    expect(got).toEqual(['1', '2', '3', '4', '5'])
  })

  it('lets a first replay larger than the mark drain, and ends the subscriber once live events pile a mark on top', async () => {
    const hub = makeHub({ highWaterMarkBytes: 2048 })
    for (let n = 1; n <= 30; n++)
      await hub.publish('a', 'task.created', { taskId: `t${n}`, note: 'x'.repeat(100) })
    const subscription = await hub.subscribe('a')
    const sink = createTestSink()
    sink.write = new Proxy(sink.write, {
      apply(target, self, args: [string]) {
        sink.buffered += args[0].length // nothing drains
        return Reflect.apply(target, self, args)
      },
    })
    subscription?.start(sink)
    expect(sink.events).toHaveLength(30)
    expect(sink.ended).toBeUndefined()
    // Live events may pile up to one more mark on top of the undrained replay.
    for (let n = 31; n <= 36; n++)
      await hub.publish('a', 'task.created', { taskId: `t${n}`, note: 'x'.repeat(100) })
    await sink.until((s) => s.events.length === 36)
    expect(sink.ended).toBeUndefined()
    for (let n = 37; n <= 50 && !sink.ended; n++) {
      await hub.publish('a', 'task.created', { taskId: `t${n}`, note: 'x'.repeat(100) })
      await nextTurn()
    }
    expect(await subscription?.ended).toBe('slow-consumer')
    expect(sink.buffered).toBeGreaterThan(2048 + 30 * 250)
  })

  it('bounds the live events kept for a subscription that has not started', async () => {
    const hub = makeHub({ highWaterMarkBytes: 2048 })
    const subscription = await hub.subscribe('a')
    for (let n = 1; n <= 40; n++)
      await hub.publish('a', 'task.created', { taskId: `t${n}`, note: 'x'.repeat(100) })
    await nextTurn()
    expect(await subscription?.ended).toBe('slow-consumer')
    expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
    const sink = createTestSink()
    subscription?.start(sink)
    expect(sink.chunks).toEqual([])
    expect(sink.ended?.error?.code).toBe('slow-consumer')
  })
})
