import { describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import {
  defineCatalog,
  initialRunState,
  isTaskwireError,
  reduceRun,
  TaskwireError,
  TaskwireValidationError,
} from '../../src/core/index.js'
import { createHub, type Hub } from '../../src/server/index.js'
import { createCountingBroker, hubsClosedAfterEach, nextTurn, seededRandom } from './hub-fixtures.js'
import { idN, idOf, seq } from './ids.js'
import { createTestSink, type TestSink } from './test-sink.js'

const makeHub = hubsClosedAfterEach()

async function publishTasks(hub: Hub, stream: string, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await hub.publish(stream, 'task.created', { taskId: `t${n}` })
}

async function open(
  hub: Hub,
  stream: string,
  lastEventId?: string | null,
): Promise<{ sink: TestSink; ended: Promise<string> }> {
  const subscription = await hub.subscribe(stream, { lastEventId })
  if (!subscription) throw new Error('expected a subscription')
  const sink = createTestSink()
  subscription.start(sink)
  return { sink, ended: subscription.ended }
}

/** The sequence numbers of the events a sink received. */
const ids = (sink: TestSink): string[] => sink.events.map((event) => seq(event.id))

describe('createHub', () => {
  it('sends retry first, then the replay, then live events', async () => {
    const hub = makeHub()
    await publishTasks(hub, 'job', 1, 2)
    const { sink } = await open(hub, 'job')
    await publishTasks(hub, 'job', 3, 3)
    await sink.until((s) => s.events.length === 3)
    expect(
      /^retry: 2000\n\nid: \d+-1\nevent: task.created\ndata: \{"type":"task.created"/.test(
        sink.chunks[0] ?? '',
      ),
    ).toBe(true)
    expect(sink.retries).toEqual([2000])
    expect(ids(sink)).toEqual(['1', '2', '3'])
    expect(sink.events.map((event) => event.event)).toEqual(['task.created', 'task.created', 'task.created'])
    expect(sink.envelopes()[2]).toMatchObject({
      type: 'task.created',
      stream: 'job',
      id: idN(3),
      data: { taskId: 't3' },
    })
  })

  it("settles a subscription's ended with its reason, whether read before or after the end", async () => {
    const hub = makeHub()
    const early = await hub.subscribe('job-early')
    const late = await hub.subscribe('job-late')
    if (!early || !late) throw new Error('expected subscriptions')
    const waiting = early.ended
    early.start(createTestSink())
    late.start(createTestSink())
    early.close()
    await hub.publish('job-late', 'run.completed', {})
    await expect(waiting).resolves.toBe('client')
    // Read for the first time after the end, and read again: one promise, the same reason.
    await vi.waitFor(() => expect(hub.stats().connections).toBe(0))
    const first = late.ended
    expect(late.ended).toBe(first)
    await expect(first).resolves.toBe('terminal')
    expect(early.ended).toBe(waiting)
  })

  it('sends no retry field when retryMs is off', async () => {
    const hub = makeHub({ retryMs: false, retryAfterMs: 0 })
    await publishTasks(hub, 'job', 1, 1)
    const { sink } = await open(hub, 'job')
    expect(sink.chunks[0]).toMatch(/^id: \d+-1\n/)
    expect(sink.retries).toEqual([])
  })

  it('replays events after Last-Event-ID without duplicates', async () => {
    const hub = makeHub()
    await publishTasks(hub, 'job', 1, 5)
    const { sink } = await open(hub, 'job', await idOf(hub, 'job', 3))
    await publishTasks(hub, 'job', 6, 7)
    await sink.until((s) => s.events.length === 4)
    expect(ids(sink)).toEqual(['4', '5', '6', '7'])
  })

  it('writes frames without event names to data-only subscribers', async () => {
    const hub = makeHub()
    await publishTasks(hub, 'job', 1, 1)
    const subscription = await hub.subscribe('job', { framing: 'data-only' })
    const sink = createTestSink()
    subscription?.start(sink)
    await publishTasks(hub, 'job', 2, 2)
    await sink.until((s) => s.events.length === 2)
    expect(sink.chunks.join('')).not.toContain('event:')
    expect(sink.envelopes().map((envelope) => envelope.type)).toEqual(['task.created', 'task.created'])
  })

  it.each([
    [7, 'ends turns now and then'],
    [11, 'ends turns now and then'],
    [2026, 'never ends a turn'],
  ])(
    'delivers every event after its cursor exactly once, in order, to subscribers joining while events are published (seed %i, publisher %s)',
    async (seed, publisherMode) => {
      const hub = makeHub({ replay: { maxEvents: 10_000 } })
      const total = 400
      const random = seededRandom(seed)
      let published = 0
      const waiters: { at: number; resolve: () => void }[] = []
      const publisher = (async () => {
        for (let n = 1; n <= total; n++) {
          // A note large enough that batches also reach the size that flushes them at once.
          await hub.publish('race', 'task.progress', { taskId: 't', note: 'x'.repeat(500), percent: n / 10 })
          published = n
          for (const waiter of waiters.filter((w) => w.at <= n)) {
            waiters.splice(waiters.indexOf(waiter), 1)
            waiter.resolve()
          }
          // End the turn now and then so batches flush while others subscribe.
          if (random(5) === 0 && publisherMode !== 'never ends a turn') await nextTurn()
        }
        await hub.publish('race', 'run.completed', {})
      })()
      const subscribers = Array.from({ length: 100 }, async (_, index) => {
        const at = random(total)
        if (at > published) await new Promise<void>((resolve) => waiters.push({ at, resolve }))
        const known = published
        const kind = index % 4
        const at_ = kind === 2 ? known : random(known + 1)
        const cursor = kind === 0 ? null : kind === 1 || at_ === 0 ? '0' : await idOf(hub, 'race', at_)
        const subscription = await hub.subscribe('race', { lastEventId: cursor })
        if (!subscription) throw new Error('stream ended too early')
        const sink = createTestSink()
        if (index % 3 === 0) await nextTurn() // start late: live events wait in the subscription
        subscription.start(sink)
        expect(await subscription.ended).toBe('terminal')
        const first = cursor === null ? 1 : Number(seq(cursor)) + 1
        const expected = Array.from({ length: total + 2 - first }, (_, i) => String(first + i))
        expect(ids(sink)).toEqual(expected)
        expect(sink.events.at(-1)?.event).toBe('run.completed')
      })
      await Promise.all([publisher, ...subscribers])
      expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
    },
  )

  it('sends stream.reset with the folded state when the cursor fell out of the replay log', async () => {
    const hub = makeHub({ replay: { maxEvents: 3 } })
    const events = []
    for (let n = 1; n <= 6; n++) events.push(await hub.publish('job', 'task.created', { taskId: `t${n}` }))
    const { sink } = await open(hub, 'job', await idOf(hub, 'job', 1))
    await publishTasks(hub, 'job', 7, 7)
    await sink.until((s) => s.events.length === 2)
    const [reset, live] = sink.envelopes()
    expect(sink.events[0]?.event).toBe('stream.reset')
    expect(seq(sink.events[0]?.id)).toBe('6')
    expect(reset).toMatchObject({ type: 'stream.reset', id: idN(6), data: { reason: 'cursor-expired' } })
    expect((reset!.data as { state: unknown }).state).toEqual(
      JSON.parse(JSON.stringify(events.reduce(reduceRun, initialRunState))),
    )
    expect(seq(live?.id)).toBe('7')
  })

  it('sends stream.reset with reason cursor-unknown for a cursor the stream never issued', async () => {
    const hub = makeHub()
    await publishTasks(hub, 'job', 1, 2)
    const { sink } = await open(hub, 'job', await idOf(hub, 'job', 99))
    await sink.until((s) => s.events.length === 1)
    expect(sink.envelopes()[0]).toMatchObject({
      type: 'stream.reset',
      id: idN(2),
      data: { reason: 'cursor-unknown' },
    })
  })

  it('sends a snapshot first to a subscriber without cursor when snapshotOnConnect is on', async () => {
    const hub = makeHub({ snapshotOnConnect: (stream) => ({ title: `Job ${stream}` }) })
    await publishTasks(hub, 'job', 1, 3)
    const { sink } = await open(hub, 'job')
    await publishTasks(hub, 'job', 4, 4)
    await sink.until((s) => s.events.length === 2)
    const [snapshot, live] = sink.envelopes()
    expect(snapshot).toMatchObject({
      type: 'stream.snapshot',
      id: idN(3),
      data: { meta: { title: 'Job job' } },
    })
    expect((snapshot!.data as { state: { tasks: unknown[] } }).state.tasks).toHaveLength(3)
    expect(seq(live?.id)).toBe('4')
    const resumed = await open(hub, 'job', await idOf(hub, 'job', 2))
    await resumed.sink.until((s) => s.events.length === 2)
    expect(ids(resumed.sink)).toEqual(['3', '4'])
  })

  it('serializes one snapshot for the many viewers that open a stream at once', async () => {
    const hub = makeHub({ snapshotOnConnect: true })
    await publishTasks(hub, 'job', 1, 3)
    await open(hub, 'job')
    const stringify = vi.spyOn(JSON, 'stringify')
    const viewers = await Promise.all(Array.from({ length: 20 }, () => open(hub, 'job')))
    expect(stringify).not.toHaveBeenCalled()
    for (const { sink } of viewers)
      expect(sink.events.map((event) => event.event)).toEqual(['stream.snapshot'])
    await publishTasks(hub, 'job', 4, 4)
    const later = await open(hub, 'job')
    expect(stringify).toHaveBeenCalled()
    expect(later.sink.envelopes()[0]).toMatchObject({ type: 'stream.snapshot', id: idN(4) })
  })

  it('sends a snapshot with id 0 for a stream without events', async () => {
    const hub = makeHub({ snapshotOnConnect: true })
    const { sink } = await open(hub, 'empty')
    await sink.until((s) => s.events.length === 1)
    expect(sink.envelopes()[0]).toMatchObject({
      type: 'stream.snapshot',
      id: '0',
      data: { state: { status: 'idle' } },
    })
  })

  it('ends subscriptions after the terminal event and answers a later subscriber at the end with null', async () => {
    const hub = makeHub()
    await publishTasks(hub, 'job', 1, 1)
    const a = await open(hub, 'job')
    const b = await open(hub, 'job', await idOf(hub, 'job', 1))
    await hub.publish('job', 'run.completed', { output: 42 })
    expect(await a.ended).toBe('terminal')
    expect(await b.ended).toBe('terminal')
    expect(a.sink.ended).toEqual({ error: undefined })
    expect(ids(a.sink)).toEqual(['1', '2'])
    expect(await hub.subscribe('job', { lastEventId: await idOf(hub, 'job', 2) })).toBeNull()
    const late = await open(hub, 'job')
    expect(await late.ended).toBe('terminal')
    expect(ids(late.sink)).toEqual(['1', '2'])
    expect(hub.stats().connections).toBe(0)
  })

  it("ends streams on the catalog's own terminal types, and only on those", async () => {
    const catalog = defineCatalog(
      {
        'deploy.step': z.object({ step: z.string() }),
        'deploy.finished': z.object({ ok: z.boolean() }),
        'run.completed': z.object({}),
      },
      { terminal: ['deploy.finished'] },
    )
    const hub = createHub({ catalog, heartbeatMs: false })
    try {
      const subscription = await hub.subscribe('d1')
      const sink = createTestSink()
      subscription?.start(sink)
      await hub.publish('d1', 'deploy.step', { step: 'build' })
      await hub.publish('d1', 'run.completed', {})
      await hub.publish('d1', 'deploy.finished', { ok: true })
      expect(await subscription?.ended).toBe('terminal')
      expect(sink.events.map((event) => event.event)).toEqual([
        'deploy.step',
        'run.completed',
        'deploy.finished',
      ])
      expect((await hub.read('d1')).ended).toBe(true)
      const last = (await hub.read('d1')).events.at(-1)?.id
      expect(await hub.subscribe('d1', { lastEventId: last })).toBeNull()
    } finally {
      await hub.close()
    }
  })

  it('joins the frames of one stream published within one turn into one write per subscriber', async () => {
    const hub = makeHub()
    const a = await open(hub, 'job')
    const b = await open(hub, 'job')
    await publishTasks(hub, 'job', 1, 5)
    await Promise.all([
      a.sink.until((s) => s.events.length === 5),
      b.sink.until((s) => s.events.length === 5),
    ])
    expect(a.sink.chunks).toHaveLength(2) // retry, then the batch
    expect(b.sink.chunks).toHaveLength(2)
    expect(a.sink.chunks[1]).toBe(b.sink.chunks[1])
    await publishTasks(hub, 'job', 6, 6)
    await nextTurn()
    await publishTasks(hub, 'job', 7, 7)
    await a.sink.until((s) => s.events.length === 7)
    expect(a.sink.chunks).toHaveLength(4)
  })

  it('serializes an event once however many subscribers receive it', async () => {
    const stringifyCalls = async (subscribers: number): Promise<number> => {
      const hub = makeHub()
      const sinks = []
      for (let i = 0; i < subscribers; i++) sinks.push((await open(hub, 'job')).sink)
      const stringify = vi.spyOn(JSON, 'stringify')
      await hub.publish('job', 'task.created', { taskId: 't1', note: 'payload' })
      await Promise.all(sinks.map((sink) => sink.until((s) => s.events.length === 1)))
      const calls = stringify.mock.calls.length
      stringify.mockRestore()
      return calls
    }
    await stringifyCalls(1) // zod compiles its schema on first use, serializing key names
    const one = await stringifyCalls(1)
    expect(await stringifyCalls(50)).toBe(one)
  })

  it('serializes a replayed event once however many subscribers replay it', async () => {
    const hub = makeHub()
    await publishTasks(hub, 'job', 1, 3)
    await open(hub, 'job') // the first replay serializes the frames
    const stringify = vi.spyOn(JSON, 'stringify')
    for (let i = 0; i < 20; i++) {
      const { sink } = await open(hub, 'job')
      expect(sink.events).toHaveLength(3)
    }
    expect(stringify).not.toHaveBeenCalled()
  })

  it('flushes batches with setTimeout where setImmediate does not exist (browsers, Deno, workers)', async () => {
    vi.resetModules()
    vi.stubGlobal('setImmediate', undefined)
    try {
      const { createHub: createWebHub } = await import('../../src/server/hub.js')
      const hub = createWebHub({ heartbeatMs: false })
      try {
        const { sink } = await open(hub, 'job')
        await publishTasks(hub, 'job', 1, 3)
        await sink.until((s) => s.events.length === 3)
        expect(sink.chunks).toHaveLength(2)
      } finally {
        await hub.close()
      }
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('rejects an invalid or unknown event with a typed error and publishes nothing', async () => {
    const hub = makeHub()
    const { sink } = await open(hub, 'job')
    const invalid = await hub
      .publish('job', 'task.status', { taskId: 't1', status: 'bogus' as 'completed' })
      .catch((error: unknown) => error)
    expect(invalid).toBeInstanceOf(TaskwireValidationError)
    expect((invalid as TaskwireValidationError).code).toBe('invalid-event')
    expect((invalid as TaskwireValidationError).issues.map((issue) => issue.path)).toEqual(['data.status'])
    const unknown = await hub
      .publish('job', 'nope' as 'task.created', { taskId: 'x' })
      .catch((error: unknown) => error)
    expect((unknown as TaskwireValidationError).code).toBe('unknown-event-type')
    const noStream = await hub.publish('', 'task.created', { taskId: 'x' }).catch((error: unknown) => error)
    expect((noStream as TaskwireValidationError).issues[0]?.path).toBe('stream')
    await nextTurn()
    expect(sink.events).toEqual([])
    expect(await hub.read('job')).toEqual({ events: [], expired: false, ended: false })
  })

  it('rejects a payload that cannot be serialized as JSON with a validation error', async () => {
    const hub = makeHub()
    const circular: Record<string, unknown> = {}
    circular.self = circular
    const error = await hub
      .publish('job', 'node.progress', { nodeId: 'n', data: { big: 10n } })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TaskwireValidationError)
    expect((error as TaskwireValidationError).issues[0]?.path).toBe('data')
    await expect(hub.publish('job', 'node.progress', { nodeId: 'n', data: circular })).rejects.toBeInstanceOf(
      TaskwireValidationError,
    )
    expect((await hub.read('job')).events).toEqual([])
  })

  it('frees the slot when the snapshot meta cannot be read', async () => {
    const hub = makeHub({
      snapshotOnConnect: async () => {
        throw new Error('database down')
      },
    })
    await expect(hub.subscribe('job')).rejects.toThrow('database down')
    expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
  })

  it('delivers events another hub publishes on the same broker', async () => {
    const broker = createCountingBroker()
    const publisher = makeHub({ broker })
    const viewer = makeHub({ broker })
    const { sink } = await open(viewer, 'job')
    await publishTasks(publisher, 'job', 1, 2)
    await sink.until((s) => s.events.length === 2)
    expect(ids(sink)).toEqual(['1', '2'])
  })

  it('saves the checkpoint of a stream it follows without reading the log back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const broker = createCountingBroker()
    const reads: (string | null)[] = []
    const read = broker.read.bind(broker)
    broker.read = (stream, afterId) => {
      reads.push(afterId)
      return read(stream, afterId)
    }
    const saved: (string | null)[] = []
    const save = broker.saveCheckpoint.bind(broker)
    broker.saveCheckpoint = (stream, checkpoint) => {
      saved.push(checkpoint.state.lastEventId)
      return save(stream, checkpoint)
    }
    const hub = makeHub({ broker })
    // Opened first, so each event reaches the fold through the subscription before the
    // publisher hears back from the broker.
    const { sink } = await open(hub, 'job')
    await publishTasks(hub, 'job', 1, 3)
    await sink.until((s) => s.events.length === 3)
    reads.length = 0
    await vi.advanceTimersByTimeAsync(5_000)
    expect(saved.at(-1)).toEqual(idN(3))
    expect(reads).toEqual([])
    vi.useRealTimers()
  })

  it('holds nothing when the broker cannot listen', async () => {
    const broker = createCountingBroker()
    broker.subscribe = async () => {
      throw new Error('broker down')
    }
    const hub = makeHub({ broker })
    await expect(hub.subscribe('job')).rejects.toThrow('broker down')
    expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
  })

  it('keeps order for every subscriber when a write publishes to the same stream synchronously', async () => {
    const hub = makeHub()
    const viewers = [await open(hub, 'job'), await open(hub, 'job'), await open(hub, 'job')]
    const first = viewers[0]!.sink
    const write = first.write.bind(first)
    let published = false
    first.write = (chunk) => {
      write(chunk)
      if (!published && chunk.includes('"taskId":"t1"')) {
        published = true
        // Large enough to be flushed at once rather than at the end of the turn.
        void hub.publish('job', 'task.created', { taskId: 'big', note: 'x'.repeat(70_000) })
      }
    }
    await publishTasks(hub, 'job', 1, 2)
    await nextTurn() // the batch of 1 and 2 is written, and the write publishes 3
    await nextTurn() // 3 is written in the turn after
    for (const { sink } of viewers) expect(ids(sink)).toEqual(['1', '2', '3'])
  })

  it('lets close be called more than once', async () => {
    const hub = makeHub()
    const subscription = await hub.subscribe('job')
    const sink = createTestSink()
    subscription?.start(sink)
    subscription?.close()
    subscription?.close()
    expect(await subscription?.ended).toBe('client')
    expect(sink.ended).toEqual({ error: undefined })
    expect(hub.stats().connections).toBe(0)
  })

  it('reads events after a cursor for polling, with the ended flag', async () => {
    const hub = makeHub()
    await publishTasks(hub, 'job', 1, 3)
    expect((await hub.read('job', await idOf(hub, 'job', 1))).events.map((event) => seq(event.id))).toEqual([
      '2',
      '3',
    ])
    await hub.publish('job', 'run.failed', { error: { message: 'boom' } })
    expect(await hub.read('job', await idOf(hub, 'job', 3))).toMatchObject({
      ended: true,
      expired: false,
      events: [{ type: 'run.failed' }],
    })
    expect((await hub.snapshot('job')).status).toBe('failed')
  })

  it('validates against a custom catalog', async () => {
    const { z } = await import('zod')
    const catalog = defineCatalog({ 'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }) })
    const hub = createHub({ catalog, heartbeatMs: false })
    const event = await hub.publish('d', 'deploy.promoted', { env: 'prod' })
    expect(event.data.env).toBe('prod')
    await expect(hub.publish('d', 'deploy.promoted', { env: 'dev' as 'prod' })).rejects.toThrow(/data.env/)
    await hub.close()
  })

  it('leaves nothing behind after 1000 subscribe and close cycles', async () => {
    const broker = createCountingBroker()
    const hub = makeHub({ broker, heartbeatMs: 1000 })
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval')
    const clearIntervalSpy = vi.spyOn(globalThis, 'clearInterval')
    for (let i = 0; i < 1000; i++) {
      const stream = `s${i % 10}`
      if (i % 50 === 0) await hub.publish(stream, 'task.created', { taskId: `t${i}` })
      const subscription = await hub.subscribe(stream, { lastEventId: i % 2 === 0 ? null : '1-1' })
      subscription?.start(createTestSink())
      if (i % 3 === 0) {
        const other = await hub.subscribe(stream)
        other?.close()
      }
      subscription?.close()
      if (subscription) expect(await subscription.ended).toBe('client')
    }
    expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
    expect(broker.listeners()).toBe(0)
    expect(setIntervalSpy.mock.calls.length).toBe(clearIntervalSpy.mock.calls.length)
    expect(setIntervalSpy.mock.calls.length).toBeGreaterThan(0)
  })

  it('reports a failed write through onError and frees the slot', async () => {
    const onError = vi.fn()
    const hub = makeHub({ onError })
    await publishTasks(hub, 'job', 1, 1)
    const subscription = await hub.subscribe('job')
    subscription?.start(createTestSink({ throwOnWrite: true }))
    expect(await subscription?.ended).toBe('client')
    expect(onError).toHaveBeenCalledOnce()
    expect(onError.mock.calls[0]?.[0]).toMatchObject({ code: 'stream-closed' })
    expect(hub.stats().connections).toBe(0)
  })

  it('ends every subscription on close and refuses new ones, leaving a given broker open', async () => {
    const broker = createCountingBroker()
    const hub = createHub({ broker, heartbeatMs: 1000 })
    const { sink, ended } = await open(hub, 'job')
    const pending = await hub.subscribe('other')
    await hub.close()
    await hub.close()
    expect(await ended).toBe('hub-closed')
    expect(await pending?.ended).toBe('hub-closed')
    expect(sink.ended?.error?.code).toBe('stream-closed')
    expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
    expect(broker.closed()).toBe(false)
    const refused = await hub.subscribe('job').catch((error: unknown) => error)
    expect(isTaskwireError(refused) && refused.code).toBe('stream-closed')
    await expect(hub.publish('job', 'task.created', { taskId: 'x' })).rejects.toBeInstanceOf(TaskwireError)
    const late = createTestSink()
    pending?.start(late)
    expect(late.ended?.error?.code).toBe('stream-closed')
    expect(late.chunks).toEqual([])
    await broker.close()
  })

  it('stamps events with the injected clock', async () => {
    const hub = makeHub({ now: () => Date.UTC(2026, 10, 21, 10) })
    const event = await hub.publish('job', 'task.created', { taskId: 't' })
    expect(event.ts).toBe('2026-11-21T10:00:00.000Z')
  })

  it('refuses options out of range', () => {
    expect(() => createHub({ heartbeatMs: 0 })).toThrow(/heartbeatMs/)
    expect(() => createHub({ maxEventBytes: -5 })).toThrow(/maxEventBytes/)
    expect(() => createHub({ retryMs: 1.5 })).toThrow(/retryMs/)
  })
})
