import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  decodeEvent,
  defaultCatalog,
  isTaskwireError,
  TaskwireHttpError,
  TaskwireValidationError,
} from '../../src/core/index.js'
import { createHub, createMemoryBroker, type Hub, serveWeb, startExecution } from '../../src/server/index.js'
import { hubsClosedAfterEach } from './hub-fixtures.js'
import { idOf, seq } from './ids.js'
import { createTestSink, type TestSink } from './test-sink.js'

afterEach(() => {
  vi.useRealTimers()
})

const makeHub = hubsClosedAfterEach()

async function open(
  hub: Hub,
  stream: string,
  options: { lastEventId?: string | null; key?: string } = {},
): Promise<{ sink: TestSink; ended: Promise<string> }> {
  const subscription = await hub.subscribe(stream, options)
  if (!subscription) throw new Error('expected a subscription')
  const sink = createTestSink()
  subscription.start(sink)
  return { sink, ended: subscription.ended }
}

const rejection = async (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error,
  )

/** The collector of this isolate, exposed without starting Node with --expose-gc. */
function collector(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

describe('hub memory under names and cursors callers choose', () => {
  it('returns to its baseline heap after 10,000 requests for distinct streams with a cursor or a snapshot', async () => {
    const hub = makeHub({ snapshotOnConnect: true })
    const gc = collector()
    // Long names, as a caller may send: whatever the hub kept per name would show at once.
    const request = async (i: number): Promise<void> => {
      const headers: Record<string, string> = i % 2 === 0 ? { 'last-event-id': '1' } : {}
      const response = await serveWeb(hub, new Request('http://127.0.0.1/events', { headers }), {
        stream: `job-${i}-${'n'.repeat(2000)}`,
      })
      const reader = response.body?.getReader()
      await reader?.read()
      await reader?.cancel()
    }
    for (let i = 0; i < 500; i++) await request(i)
    gc()
    const baseline = process.memoryUsage().heapUsed
    for (let i = 500; i < 10_500; i++) await request(i)
    gc()
    const grown = process.memoryUsage().heapUsed - baseline
    expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
    // 10,000 distinct 2 KB names: holding anything per name would take 20 MB and more.
    expect(grown).toBeLessThan(6 * 1024 * 1024)
  })

  it('refuses a publish to a new stream with 503 broker-full when every stream kept has subscribers, and loses nothing', async () => {
    const hub = makeHub({ replay: { maxStreams: 3 } })
    const viewers = []
    for (const name of ['a', 'b', 'c']) {
      await hub.publish(name, 'task.created', { taskId: 't1' })
      viewers.push(await open(hub, name))
    }
    const refused = await rejection(hub.publish('d', 'task.created', { taskId: 't1' }))
    expect(refused).toBeInstanceOf(TaskwireHttpError)
    expect(refused).toMatchObject({ status: 503, code: 'broker-full' })
    expect((await hub.read('d')).events).toEqual([])
    // The streams with subscribers keep their log and their numbering.
    expect(seq((await hub.publish('a', 'task.created', { taskId: 't2' })).id)).toBe('2')
    expect((await hub.read('a')).events.map((event) => seq(event.id))).toEqual(['1', '2'])
    // Once a stream has no subscriber, it is the one that makes room.
    await hub.disconnect({ stream: 'b' })
    const d1 = await hub.publish('d', 'task.created', { taskId: 't1' })
    const d2 = await hub.publish('d', 'task.created', { taskId: 't2' })
    expect([seq(d1.id), seq(d2.id)]).toEqual(['1', '2'])
    expect((await hub.read('d')).events.map((event) => event.id)).toEqual([d1.id, d2.id])
    expect((await hub.snapshot('b')).lastEventId).toBeNull()
    expect((await hub.snapshot('c')).tasks).toHaveLength(1)
  })
})

describe('the replay byte budget', () => {
  const task = (stream: string, n: number) => ({
    type: 'task.created',
    stream,
    ts: '2026-12-02T10:00:00.000Z',
    data: { taskId: `t${n}`, note: 'x'.repeat(1000) },
    dataJson: JSON.stringify({ taskId: `t${n}`, note: 'x'.repeat(1000) }),
    bytes: 1100,
  })

  it('drops the logs appended to the longest ago first; the hub still knows their state', async () => {
    const hub = makeHub({ replay: { maxBytes: 11_000 } })
    const publish = (stream: string, n: number) =>
      hub.publish(stream, 'task.created', { taskId: `t${n}`, note: 'x'.repeat(1000) })
    for (let n = 1; n <= 6; n++) await publish('old', n)
    const cursor = (await hub.snapshot('old')).lastEventId
    for (let n = 1; n <= 6; n++) await publish('new', n)
    const old = await hub.read('old', null)
    expect(old.expired).toBe(true)
    expect(old.events).toEqual([])
    expect((await hub.snapshot('old')).tasks).toHaveLength(6)
    expect((await hub.read('new', null)).events).toHaveLength(6)
    expect(await hub.read('old', cursor)).toMatchObject({ events: [], expired: false, ended: false })
  })

  it('trims the oldest events of a stream that alone exceeds the budget, keeping the newest', async () => {
    const broker = createMemoryBroker({ maxBytes: 5_000 })
    const appended = []
    for (let n = 1; n <= 30; n++) appended.push(await broker.append(task('solo', n)))
    const read = await broker.read('solo', null)
    expect(read.expired).toBe(true)
    expect(read.events.map((event) => event.id)).toEqual(appended.slice(-4).map((event) => event.id))
  })

  it('bounds the default hub: a hundred streams of large events keep at most the budget', async () => {
    const hub = makeHub({ replay: { maxBytes: 2 * 1024 * 1024 } })
    const note = 'y'.repeat(50_000)
    for (let s = 0; s < 100; s++) {
      for (let n = 0; n < 5; n++) await hub.publish(`s${s}`, 'task.progress', { taskId: 't', note })
    }
    let kept = 0
    for (let s = 0; s < 100; s++) kept += (await hub.read(`s${s}`)).events.length
    // 500 events of 50 KB were published; 2 MiB holds about 40 of them.
    expect(kept).toBeGreaterThan(30)
    expect(kept).toBeLessThanOrEqual(42)
    expect((await hub.read('s99')).expired).toBe(false)
  })
})

describe('snapshots too large to send whole', () => {
  const bigRun = async (hub: Hub, tasks: number): Promise<void> => {
    for (let n = 1; n <= tasks; n++) {
      await hub.publish('job', 'task.created', { taskId: `t${n}`, title: 'x'.repeat(200) })
    }
  }

  it('sends a reader whose log is incomplete a stream.reset with the run fields, within maxSnapshotBytes', async () => {
    const hub = makeHub({ snapshotOnConnect: true, maxSnapshotBytes: 20_000, replay: { maxEvents: 50 } })
    await hub.publish('job', 'run.started', { executionId: 'e1' })
    await bigRun(hub, 300)
    for (const cursor of [null, await idOf(hub, 'job', 2)]) {
      const { sink } = await open(hub, 'job', { lastEventId: cursor })
      await hub.publish('job', 'task.status', { taskId: 't1', status: 'completed' })
      await sink.until((s) => s.events.length === 2)
      const frame =
        sink.chunks
          .join('')
          .split('\n\n')
          .find((block) => block.includes('stream.reset')) ?? ''
      expect(new TextEncoder().encode(frame).length).toBeLessThanOrEqual(20_000)
      const [reset, live] = sink.envelopes()
      expect(reset).toMatchObject({
        type: 'stream.reset',
        data: { reason: 'snapshot-too-large', state: { status: 'running', executionId: 'e1', tasks: [] } },
      })
      // A client validating against the catalog accepts it.
      const decoded = decodeEvent({ event: 'stream.reset', data: JSON.stringify(reset) }, defaultCatalog)
      expect(decoded).toMatchObject({
        ok: true,
        value: { type: 'stream.reset', data: { reason: 'snapshot-too-large' } },
      })
      expect(live?.type).toBe('task.status')
    }
  })

  it('replays the whole log instead when it still holds the run from its first event', async () => {
    const hub = makeHub({ snapshotOnConnect: true, maxSnapshotBytes: 20_000, replay: { maxEvents: 1000 } })
    await bigRun(hub, 300)
    const { sink } = await open(hub, 'job')
    await sink.until((s) => s.events.length === 300)
    expect(sink.events.every((event) => event.event === 'task.created')).toBe(true)
    expect(sink.events.map((event) => seq(event.id))).toEqual(
      Array.from({ length: 300 }, (_, i) => String(i + 1)),
    )
  })
})

describe('the trust boundary at publish', () => {
  it.each(['stream.snapshot', 'stream.reset'])(
    'refuses %s from producers and stores nothing',
    async (type) => {
      const hub = makeHub()
      const forged = { state: { status: 'completed' }, reason: 'cursor-expired' }
      const error = await rejection(hub.publish('job', type as 'task.created', forged as never))
      expect(error).toBeInstanceOf(TaskwireValidationError)
      expect(error).toMatchObject({ code: 'reserved-event-type', issues: [{ path: 'type' }] })
      expect((await hub.snapshot('job')).lastEventId).toBeNull()
    },
  )

  it('refuses an oversized event with a validation error a webhook answers 413, not 500', async () => {
    const hub = makeHub({ maxEventBytes: 1000 })
    const error = await rejection(hub.publish('job', 'task.created', { taskId: 't', note: 'x'.repeat(2000) }))
    expect(error).toBeInstanceOf(TaskwireValidationError)
    expect(error).toMatchObject({ code: 'event-too-large', issues: [{ path: 'data' }] })
  })

  it('rejects an empty stream name with a validation error', async () => {
    const hub = makeHub()
    const error = await rejection(hub.subscribe(''))
    expect(error).toBeInstanceOf(TaskwireValidationError)
  })
})

describe('limits per caller and revocation', () => {
  it('holds one caller to maxConnectionsPerKey while others still get in', async () => {
    const hub = makeHub({ maxConnectionsPerKey: 2 })
    await open(hub, 'a', { key: 'u1' })
    await open(hub, 'b', { key: 'u1' })
    const refused = await rejection(hub.subscribe('c', { key: 'u1' }))
    expect(refused).toMatchObject({ status: 503, code: 'connection-limit', retryAfterMs: 5000 })
    await open(hub, 'a', { key: 'u2' })
    await open(hub, 'a')
    expect(hub.stats().connections).toBe(4)
  })

  it('ends the subscriptions of a revoked caller, freeing its slots', async () => {
    const hub = makeHub({ maxConnectionsPerKey: 2 })
    const mine = [await open(hub, 'a', { key: 'u1' }), await open(hub, 'b', { key: 'u1' })]
    const other = await open(hub, 'a', { key: 'u2' })
    expect(hub.disconnect({ key: 'u1' })).toBe(2)
    for (const { sink, ended } of mine) {
      expect(await ended).toBe('revoked')
      expect(sink.ended?.error?.code).toBe('revoked')
    }
    await hub.publish('a', 'task.created', { taskId: 't1' })
    await other.sink.until((s) => s.events.length === 1)
    expect(hub.disconnect((info) => info.stream === 'a' && info.key === 'u2')).toBe(1)
    expect(await other.ended).toBe('revoked')
    expect(hub.stats().connections).toBe(0)
    await open(hub, 'a', { key: 'u1' })
    await open(hub, 'b', { key: 'u1' })
  })

  it('counts reservations like connections and hands their slot to the subscription', async () => {
    const hub = makeHub({ maxConnections: 2 })
    const first = hub.reserve({ key: 'u1' })
    hub.reserve()
    expect(hub.stats().connections).toBe(2)
    expect(() => hub.reserve()).toThrow(TaskwireHttpError)
    await open(hub, 'a', { key: 'ignored' }).catch(() => undefined)
    const subscription = await hub.subscribe('a', { reservation: first })
    expect(hub.stats().connections).toBe(2)
    first.release() // taken over already: frees nothing
    expect(hub.stats().connections).toBe(2)
    subscription?.close()
    expect(hub.stats().connections).toBe(1)
  })
})

describe('closing a hub', () => {
  it('cancels running executions first, so their viewers see run.cancelled, with nothing reported', async () => {
    const errors = vi.spyOn(console, 'error')
    const hub = createHub({ heartbeatMs: false })
    const execution = await startExecution(hub, {
      stream: 'run-1',
      run: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    })
    const { sink, ended } = await open(hub, 'run-1')
    await sink.until((s) => s.events.length >= 1)
    await hub.close()
    expect(await execution.done).toBe('cancelled')
    expect(await ended).toBe('terminal')
    expect(sink.envelopes().map((event) => event.type)).toEqual(['run.started', 'run.cancelled'])
    expect(errors).not.toHaveBeenCalled()
  })

  it('awaits running executions when asked, so their last events still reach viewers', async () => {
    const hub = createHub({ heartbeatMs: false })
    let finish: () => void = () => {}
    const execution = await startExecution(hub, {
      stream: 'run-2',
      run: () => new Promise<string>((resolve) => (finish = () => resolve('done'))),
    })
    const { sink, ended } = await open(hub, 'run-2')
    await sink.until((s) => s.events.length >= 1)
    const closing = hub.close({ executions: 'await' })
    const refused = await hub.subscribe('run-2').catch((error: unknown) => error)
    expect(isTaskwireError(refused) && refused.code).toBe('stream-closed')
    finish()
    await closing
    expect(await execution.done).toBe('completed')
    expect(await ended).toBe('terminal')
    expect(sink.envelopes().at(-1)).toMatchObject({ type: 'run.completed', data: { output: 'done' } })
  })

  it('closes connections at random points across drainMs rather than all at once', async () => {
    vi.useFakeTimers()
    const hub = createHub({ heartbeatMs: false })
    const viewers = [await open(hub, 'a'), await open(hub, 'b'), await open(hub, 'c')]
    const endedAt: number[] = []
    for (const { ended } of viewers) void ended.then(() => endedAt.push(Date.now()))
    const draws = [0.9, 0.1, 0.5]
    vi.spyOn(Math, 'random').mockImplementation(() => draws.shift() ?? 0)
    const start = Date.now()
    const closing = hub.close({ drainMs: 1000 })
    await vi.advanceTimersByTimeAsync(0)
    await expect(hub.publish('a', 'task.created', { taskId: 't' })).rejects.toMatchObject({
      code: 'stream-closed',
    })
    expect(endedAt).toEqual([])
    await vi.advanceTimersByTimeAsync(200)
    expect(endedAt).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(400)
    expect(endedAt).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(400)
    await closing
    expect(endedAt.map((at) => at - start)).toEqual([100, 500, 900])
    for (const { sink } of viewers) expect(sink.ended?.error?.code).toBe('stream-closed')
    expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
  })
})
