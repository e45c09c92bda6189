import { describe, expect, it, vi } from 'vitest'
import { compareEventIds, TaskwireError } from '../../src/core/index.js'
import { type Broker, createMemoryBroker, type StoredEvent } from '../../src/server/index.js'
import { resolveMemoryBrokerOptions } from '../../src/server/memory-broker.js'
import { brokerContract } from './broker-contract.js'

brokerContract('memory broker', {
  make: async ({ maxEvents }) => createMemoryBroker({ maxEvents }),
  // One process: every part of it shares the one broker.
  peer: async (broker) => broker,
})

const event = (stream: string, n: number) => ({
  type: 'task.created',
  stream,
  ts: '2026-11-21T10:00:00.000Z',
  data: { taskId: `t${n}` },
  dataJson: JSON.stringify({ taskId: `t${n}` }),
})

const listener = (event: (e: StoredEvent) => void = () => {}) => ({ event, gap: () => {} })
const lastId = async (broker: Broker, stream: string) =>
  (await broker.read(stream, null)).events.at(-1)?.id ?? null

describe('createMemoryBroker', () => {
  it('numbers each stream <epoch>-<seq>, the sequence counting from 1 and the epoch told apart per stream', async () => {
    const broker = createMemoryBroker()
    const a1 = await broker.append(event('a', 1))
    const a2 = await broker.append(event('a', 2))
    const b1 = await broker.append(event('b', 1))
    expect(a1.id).toMatch(/^\d+-1$/)
    expect(a2.id).toBe(`${a1.id.split('-')[0]}-2`)
    expect(b1.id).toMatch(/^\d+-1$/)
    expect(b1.id).not.toBe(a1.id)
    expect(compareEventIds(a2.id, a1.id)).toBeGreaterThan(0)
  })

  it('reads cursor "0" as the start of the stream', async () => {
    const broker = createMemoryBroker()
    const first = await broker.append(event('a', 1))
    expect((await broker.read('a', '0')).events.map((e) => e.id)).toEqual([first.id])
    expect((await broker.read('a', '000')).events.map((e) => e.id)).toEqual([first.id])
  })

  it('reads a zero-padded id as the id it pads', async () => {
    const broker = createMemoryBroker()
    const first = await broker.append(event('a', 1))
    const second = await broker.append(event('a', 2))
    const [epoch] = first.id.split('-')
    const padded = `000${epoch}-0000000000000001`
    expect(compareEventIds(padded, first.id)).toBe(0)
    const read = await broker.read('a', padded)
    expect(read).toMatchObject({ expired: false })
    expect(read.events.map((e) => e.id)).toEqual([second.id])
  })

  it('never takes a cursor from another incarnation of a stream for one of its own', async () => {
    const before = createMemoryBroker()
    for (let n = 1; n <= 3; n++) await before.append(event('job', n))
    const cursor = await lastId(before, 'job')
    await before.close()
    // A restarted process: the same stream, numbered anew, soon past the old cursor.
    const after = createMemoryBroker()
    for (let n = 1; n <= 5; n++) await after.append(event('job', n))
    expect(await after.read('job', cursor)).toEqual({ events: [], expired: true, reason: 'cursor-unknown' })
    expect(await after.read('job', '2')).toEqual({ events: [], expired: true, reason: 'cursor-unknown' })
    expect(await after.read('job', 'garbage')).toMatchObject({ expired: true, reason: 'cursor-unknown' })
  })

  it('drops events older than maxAgeMs and expires cursors before them', async () => {
    let now = 1_000_000
    const broker = createMemoryBroker({ maxAgeMs: 1000, now: () => now })
    const first = await broker.append(event('a', 1))
    now += 600
    const second = await broker.append(event('a', 2))
    now += 600
    expect(await broker.read('a', first.id)).toMatchObject({ expired: false, events: [{ id: second.id }] })
    expect(await broker.read('a', null)).toMatchObject({ expired: true, events: [{ id: second.id }] })
    now += 1000
    expect(await broker.read('a', first.id)).toEqual({ events: [], expired: true, reason: 'cursor-expired' })
    expect(await broker.read('a', second.id)).toEqual({ events: [], expired: false })
  })

  it('forgets a stream idle past idleStreamMs unless it has listeners', async () => {
    let now = 0
    const broker = createMemoryBroker({ idleStreamMs: 10_000, now: () => now })
    const idle = await broker.append(event('idle', 1))
    const watched = await broker.append(event('watched', 1))
    const stop = await broker.subscribe('watched', watched.id, listener())
    now += 20_000
    await broker.append(event('busy', 1))
    expect(await lastId(broker, 'idle')).toBeNull()
    expect(await lastId(broker, 'watched')).toBe(watched.id)
    expect((await broker.read('idle', idle.id)).expired).toBe(true)
    stop()
  })

  it('keeps at most maxStreams streams, forgetting the least recently appended first', async () => {
    const broker = createMemoryBroker({ maxStreams: 3 })
    for (const name of ['a', 'b', 'c']) await broker.append(event(name, 1))
    await broker.append(event('a', 2))
    await broker.append(event('d', 1))
    expect(await lastId(broker, 'b')).toBeNull()
    for (const name of ['a', 'c', 'd']) expect(await lastId(broker, name)).not.toBeNull()
  })

  it('reports a listener that throws and still tells the others', async () => {
    const onError = vi.fn()
    const broker = createMemoryBroker({ onError })
    const heard: StoredEvent[] = []
    await broker.subscribe(
      'a',
      null,
      listener(() => {
        throw new Error('boom')
      }),
    )
    await broker.subscribe(
      'a',
      null,
      listener((e) => heard.push(e)),
    )
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
