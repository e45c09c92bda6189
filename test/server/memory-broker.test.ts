import { describe, expect, it, vi } from 'vitest'
import { type Envelope, TaskwireError } from '../../src/core/index.js'
import { createMemoryBroker } from '../../src/server/index.js'
import { resolveMemoryBrokerOptions } from '../../src/server/memory-broker.js'
import { brokerContract } from './broker-contract.js'

brokerContract('memory broker', async ({ maxEvents }) => createMemoryBroker({ maxEvents }))

const event = (stream: string, n: number) => ({
  type: 'task.created',
  stream,
  ts: '2026-11-21T10:00:00.000Z',
  data: { taskId: `t${n}` },
})

describe('createMemoryBroker', () => {
  it('numbers each stream from "1" in decimal', async () => {
    const broker = createMemoryBroker()
    expect((await broker.append(event('a', 1))).id).toBe('1')
    expect((await broker.append(event('a', 2))).id).toBe('2')
    expect((await broker.append(event('b', 1))).id).toBe('1')
  })

  it('reads cursor "0" as the start of the stream', async () => {
    const broker = createMemoryBroker()
    await broker.append(event('a', 1))
    expect((await broker.read('a', '0')).events.map((e) => e.id)).toEqual(['1'])
  })

  it('drops events older than maxAgeMs and expires cursors before them', async () => {
    let now = 1_000_000
    const broker = createMemoryBroker({ maxAgeMs: 1000, now: () => now })
    await broker.append(event('a', 1))
    now += 600
    await broker.append(event('a', 2))
    now += 600
    expect(await broker.read('a', '1')).toMatchObject({ expired: false, events: [{ id: '2' }] })
    expect(await broker.read('a', null)).toMatchObject({ expired: true, events: [{ id: '2' }] })
    now += 1000
    expect(await broker.read('a', '1')).toEqual({ events: [], expired: true })
    expect(await broker.read('a', '2')).toEqual({ events: [], expired: false })
    expect((await broker.state('a')).tasks).toHaveLength(2)
  })

  it('forgets a stream idle past idleStreamMs unless it has listeners', async () => {
    let now = 0
    const broker = createMemoryBroker({ idleStreamMs: 10_000, now: () => now })
    await broker.append(event('idle', 1))
    await broker.append(event('watched', 1))
    const stop = broker.subscribe('watched', () => {})
    now += 20_000
    await broker.append(event('busy', 1))
    expect((await broker.state('idle')).lastEventId).toBeNull()
    expect((await broker.state('watched')).lastEventId).toBe('1')
    expect((await broker.read('idle', '1')).expired).toBe(true)
    stop()
  })

  it('keeps at most maxStreams streams, forgetting the least recently appended first', async () => {
    const broker = createMemoryBroker({ maxStreams: 3 })
    for (const name of ['a', 'b', 'c']) await broker.append(event(name, 1))
    await broker.append(event('a', 2))
    await broker.append(event('d', 1))
    expect((await broker.state('b')).lastEventId).toBeNull()
    for (const name of ['a', 'c', 'd']) expect((await broker.state(name)).lastEventId).not.toBeNull()
  })

  it('reports a listener that throws and still tells the others', async () => {
    const onError = vi.fn()
    const broker = createMemoryBroker({ onError })
    const heard: Envelope[] = []
    broker.subscribe('a', () => {
      throw new Error('boom')
    })
    broker.subscribe('a', (e) => heard.push(e))
    await broker.append(event('a', 1))
    expect(heard).toHaveLength(1)
    expect(onError).toHaveBeenCalledOnce()
    expect(onError.mock.calls[0]?.[0]).toBeInstanceOf(TaskwireError)
    expect(onError.mock.calls[0]?.[0].code).toBe('broker')
  })

  it('rejects bounds that are not positive', () => {
    expect(() => createMemoryBroker({ maxEvents: 0 })).toThrow(/maxEvents/)
    expect(() => createMemoryBroker({ maxAgeMs: -1 })).toThrow(/maxAgeMs/)
    expect(resolveMemoryBrokerOptions({ maxEvents: false }).maxEvents).toBe(false)
  })
})
