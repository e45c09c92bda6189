import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createHeartbeat, createHub } from '../../src/server/index.js'
import { createTestSink } from './test-sink.js'

beforeEach(() => {
  // setImmediate stays real: the hub flushes batches on it.
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('createHeartbeat', () => {
  it('beats every member on one timer, set with the first member and cleared with the last', () => {
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval')
    const beats: string[] = []
    const heartbeat = createHeartbeat<string>({ intervalMs: 1000, beat: (member) => beats.push(member) })
    expect(heartbeat.running).toBe(false)
    heartbeat.add('a')
    heartbeat.add('b')
    expect(heartbeat.running).toBe(true)
    expect(setIntervalSpy).toHaveBeenCalledOnce()
    vi.advanceTimersByTime(2000)
    expect(beats).toEqual(['a', 'b', 'a', 'b'])
    heartbeat.delete('a')
    vi.advanceTimersByTime(1000)
    expect(beats.slice(4)).toEqual(['b'])
    heartbeat.delete('b')
    expect(heartbeat.running).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('never sets a timer when off', () => {
    const heartbeat = createHeartbeat<string>({ intervalMs: false, beat: () => {} })
    heartbeat.add('a')
    expect(heartbeat.running).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('lets a beat remove members while it iterates', () => {
    const beats: string[] = []
    const heartbeat = createHeartbeat<string>({
      intervalMs: 10,
      beat: (member) => {
        beats.push(member)
        heartbeat.delete('b')
      },
    })
    heartbeat.add('a')
    heartbeat.add('b')
    vi.advanceTimersByTime(10)
    expect(beats).toEqual(['a', 'b'])
    vi.advanceTimersByTime(10)
    expect(beats).toEqual(['a', 'b', 'a'])
  })
})

describe('hub heartbeat', () => {
  it('writes a heartbeat comment to every open stream from one shared timer, cleared when none is left', async () => {
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval')
    const hub = createHub({ heartbeatMs: 15_000 })
    const sinks = [createTestSink(), createTestSink(), createTestSink()]
    const subscriptions = []
    for (const [index, sink] of sinks.entries()) {
      const subscription = await hub.subscribe(`s${index % 2}`)
      subscription?.start(sink)
      subscriptions.push(subscription)
    }
    expect(hub.stats().timers).toBe(1)
    expect(setIntervalSpy).toHaveBeenCalledOnce()
    vi.advanceTimersByTime(15_000)
    for (const sink of sinks) {
      expect(sink.chunks.at(-1)).toBe(': hb\n\n')
      expect(sink.comments).toHaveLength(1)
      expect(sink.events).toEqual([])
    }
    vi.advanceTimersByTime(30_000)
    expect(sinks[0]?.comments).toHaveLength(3)
    for (const subscription of subscriptions) subscription?.close()
    expect(hub.stats().timers).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(60_000)
    expect(sinks[0]?.comments).toHaveLength(3)
    await hub.close()
  })

  it('does not beat a subscription that has not started', async () => {
    const hub = createHub({ heartbeatMs: 1000 })
    const subscription = await hub.subscribe('s')
    expect(hub.stats().timers).toBe(0)
    const sink = createTestSink()
    subscription?.start(sink)
    expect(hub.stats().timers).toBe(1)
    await hub.close()
    expect(hub.stats().timers).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('ends a subscriber whose heartbeat finds it past the high-water mark', async () => {
    const hub = createHub({ heartbeatMs: 1000, highWaterMarkBytes: 100 })
    const subscription = await hub.subscribe('s')
    const sink = createTestSink()
    subscription?.start(sink)
    sink.buffered = 1000
    vi.advanceTimersByTime(1000)
    expect(await subscription?.ended).toBe('slow-consumer')
    expect(hub.stats()).toMatchObject({ connections: 0, timers: 0 })
    await hub.close()
  })
})
