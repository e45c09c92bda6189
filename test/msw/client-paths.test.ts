import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type ConnectionStatus,
  type ConnectOptions,
  connect,
  createRunStore,
  eventSourceTransport,
  type Resync,
  type StreamHandle,
} from '../../src/client/index.js'
import {
  type DefaultCatalog,
  defaultCatalog,
  type Envelope,
  encodeEvent,
  initialRunState,
  isTaskwireError,
  type RunState,
  reduceRun,
  type TaskwireError,
  TaskwireHttpError,
} from '../../src/core/index.js'
import {
  bufferingProxy,
  gapOnReconnect,
  reconnectStorm,
  replayFrom,
  type ScriptEvent,
  slowDrip,
  sseHandler,
  tokenExpiry,
} from '../../src/msw/index.js'
import { mswServer, ORIGIN } from './support.js'

const server = mswServer()
const STREAM_URL = `${ORIGIN}/api/jobs/job-7/events`
/** The route the handlers match, so each stream is named `job-7` as the hub would name it. */
const PATH = `${ORIGIN}/api/jobs/:id/events`

/** A run of six events that ends with `run.completed`. */
const RUN: ScriptEvent[] = [
  { type: 'run.started', data: {} },
  { type: 'task.created', data: { taskId: 't1', title: 'Plan' } },
  { type: 'task.progress', data: { taskId: 't1', percent: 40, note: 'héllo 🚀' } },
  { type: 'agent.completed', data: { role: 'planner', durationMs: 1200 } },
  { type: 'task.completed', data: { taskId: 't1' } },
  { type: 'run.completed', data: {} },
]

/** The ids of the first `count` events of a handler's epoch. */
const ids = (...seqs: number[]): string[] => seqs.map((seq) => `1-${seq}`)

/** What a test sees of a handle until it closes. */
interface Watched {
  readonly ids: string[]
  readonly statuses: ConnectionStatus[]
  readonly resyncs: Resync[]
  readonly errors: unknown[]
  readonly invalid: TaskwireError[]
  readonly state: () => RunState
  readonly closed: Promise<void>
}

const handles: StreamHandle[] = []

afterEach(() => {
  for (const handle of handles.splice(0)) handle.close()
  vi.useRealTimers()
})

/**
 * Connects to the scripted stream with a backoff that reconnects at once (random 0 leaves
 * only the server's floor), and watches it.
 */
function watch(options: ConnectOptions<DefaultCatalog> = {}, url = STREAM_URL): Watched {
  const errors: unknown[] = []
  const invalid: TaskwireError[] = []
  const handle = connect(url, {
    catalog: defaultCatalog,
    backoff: { initialMs: 10 },
    random: () => 0,
    onError: (error) => errors.push(error),
    onInvalid: (error) => invalid.push(error),
    ...options,
  })
  handles.push(handle)
  const seen: string[] = []
  const statuses: ConnectionStatus[] = []
  const resyncs: Resync[] = []
  // The status handler first: the first subscriber connects, and `connecting` comes at once.
  const closed = new Promise<void>((resolve) => {
    handle.onStatus((status) => {
      statuses.push(status)
      if (status === 'closed') resolve()
    })
  })
  const store = createRunStore(handle)
  handle.on('*', (event) => seen.push(event.id))
  handle.onResync((resync) => resyncs.push(resync))
  store.subscribe(() => {})
  return { ids: seen, statuses, resyncs, errors, invalid, state: () => store.getState(), closed }
}

/** The state the hub would hold after the first `count` events of RUN. */
function stateAfter(count: number): RunState {
  return RUN.slice(0, count).reduce<RunState>(
    (state, event, i) =>
      reduceRun(state, { ...event, stream: 'job-7', id: `1-${i + 1}`, ts: '2026-01-01T00:00:00.000Z' }),
    initialRunState,
  )
}

/** Compares run states without what the fold takes from each event's `ts`: times, durations. */
function withoutTimes(state: RunState): unknown {
  return JSON.parse(JSON.stringify(state, (key, value) => (/At$|^durationMs$/.test(key) ? undefined : value)))
}

describe('the client against scripted streams, over fetch', () => {
  it('reconnects after each drop and resumes after the last event id, receiving every event once', async () => {
    const handler = sseHandler('GET', PATH, replayFrom(RUN, { dropAfter: 2 }))
    server.use(handler)
    const run = watch()
    await run.closed
    expect(run.ids).toEqual(ids(1, 2, 3, 4, 5, 6))
    expect(handler.lastEventIds()).toEqual([null, '1-2', '1-4'])
    // The last connection ends with the run: the client leaves on the terminal event.
    expect(handler.connections.map((connection) => connection.end).slice(0, 2)).toEqual([
      'dropped',
      'dropped',
    ])
    // The last batch ends the run, so the client closes before it reports how it resumed.
    expect(run.resyncs.map((resync) => resync.kind)).toEqual(['fresh', 'replayed'])
    expect(run.statuses).toEqual([
      'connecting',
      'open',
      'reconnecting',
      'open',
      'reconnecting',
      'open',
      'closed',
    ])
    expect(run.errors).toEqual([])
    expect(withoutTimes(run.state())).toEqual(withoutTimes(stateAfter(6)))
  })

  it('survives a reconnect storm: one event per connection, each exactly once', async () => {
    const handler = sseHandler('POST', PATH, reconnectStorm(RUN, { dropAfter: 1 }))
    server.use(handler)
    const run = watch({ method: 'POST', body: '{}' })
    await run.closed
    expect(run.ids).toEqual(ids(1, 2, 3, 4, 5, 6))
    expect(handler.connections).toHaveLength(6)
    expect(handler.lastEventIds()).toEqual([null, ...ids(1, 2, 3, 4, 5)])
    expect(run.errors).toEqual([])
  })

  it('resumes on its first attempt after a cursor it kept, and stops on the 204 after the end', async () => {
    const handler = sseHandler('GET', PATH, replayFrom(RUN))
    server.use(handler)
    const resumed = watch({ lastEventId: '1-4' })
    await resumed.closed
    expect(resumed.ids).toEqual(ids(5, 6))
    const finished = watch({ lastEventId: '1-6' })
    await finished.closed
    expect(finished.ids).toEqual([])
    expect(finished.errors).toEqual([])
    expect(handler.connections.map((connection) => [connection.lastEventId, connection.status])).toEqual([
      ['1-4', 200],
      ['1-6', 204],
    ])
  })

  it('sends the same POST body on every attempt', async () => {
    const bodies: unknown[] = []
    const replay = replayFrom(RUN, { dropAfter: 3 })
    server.use(
      sseHandler('POST', PATH, (info, stream) => {
        bodies.push(info.body)
        return replay(info, stream)
      }),
    )
    const run = watch({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ goal: 'ship' }),
    })
    await run.closed
    expect(bodies).toEqual([{ goal: 'ship' }, { goal: 'ship' }])
    expect(run.ids).toEqual(ids(1, 2, 3, 4, 5, 6))
  })

  it('calls headers() again after a 401 and resumes with the new token', async () => {
    const handler = sseHandler('GET', PATH, tokenExpiry(RUN, { expiresAfter: 3 }))
    server.use(handler)
    const tokens = ['a', 'a', 'b']
    let calls = 0
    const run = watch({
      retryOn401: true,
      headers: () => ({ authorization: `Bearer ${tokens[Math.min(calls++, tokens.length - 1)]}` }),
    })
    await run.closed
    expect(run.ids).toEqual(ids(1, 2, 3, 4, 5, 6))
    expect(calls).toBe(3)
    expect(
      handler.connections.map((connection) => [
        connection.request.headers.get('authorization'),
        connection.lastEventId,
        connection.status,
      ]),
    ).toEqual([
      ['Bearer a', null, 200],
      ['Bearer a', '1-3', 401],
      ['Bearer b', '1-3', 200],
    ])
    expect(run.errors).toEqual([])
  })

  it('stops with an unauthorized error on a 401 when it may not retry', async () => {
    const handler = sseHandler('GET', PATH, tokenExpiry(RUN))
    server.use(handler)
    const run = watch()
    await run.closed
    expect(handler.connections).toHaveLength(1)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toBeInstanceOf(TaskwireHttpError)
    expect(run.errors[0]).toMatchObject({ code: 'unauthorized', status: 401 })
  })

  it('waits at least the Retry-After of a 503 before trying again', async () => {
    vi.useFakeTimers()
    const handler = sseHandler('GET', PATH, async (info, stream) => {
      if (info.attempt === 1) return stream.respond(503, { headers: { 'retry-after': '2' } })
      return replayFrom(RUN)(info, stream)
    })
    server.use(handler)
    const run = watch()
    await vi.advanceTimersByTimeAsync(1_999)
    expect(handler.connections).toHaveLength(1)
    expect(run.statuses.at(-1)).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(1)
    await run.closed
    expect(handler.connections).toHaveLength(2)
    expect(run.ids).toEqual(ids(1, 2, 3, 4, 5, 6))
  })

  it('waits at least the retry: the server sent before it dropped', async () => {
    vi.useFakeTimers()
    const handler = sseHandler('GET', PATH, async (info, stream) => {
      if (info.attempt === 1) {
        await stream.retry(3_000)
        await stream.send('run.started', {})
        return stream.drop()
      }
      await stream.send('run.completed', {})
    })
    server.use(handler)
    const run = watch()
    await vi.advanceTimersByTimeAsync(2_999)
    expect(handler.connections).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    await run.closed
    expect(handler.lastEventIds()).toEqual([null, '1-1'])
    expect(run.ids).toEqual(ids(1, 2))
  })

  it('reconnects when a connection stays silent past the heartbeat timeout', async () => {
    vi.useFakeTimers()
    const handler = sseHandler('GET', PATH, async (info, stream) => {
      if (info.attempt === 1) {
        await stream.send('run.started', {})
        await stream.wait(60_000)
        return
      }
      await stream.send('run.completed', {})
    })
    server.use(handler)
    const run = watch({ heartbeatTimeoutMs: 1_000 })
    await vi.advanceTimersByTimeAsync(999)
    expect(handler.connections).toHaveLength(1)
    expect(run.statuses.at(-1)).toBe('open')
    await vi.advanceTimersByTimeAsync(1)
    expect(run.statuses.at(-1)).toBe('reconnecting')
    // The reconnection is due at once (random 0, no floor): one more tick of fake time.
    await vi.advanceTimersByTimeAsync(1)
    await run.closed
    expect(handler.connections[0]?.end).toBe('client-closed')
    expect(run.ids).toEqual(ids(1, 2))
  })

  it('keeps a stream whose heartbeats arrive, however long the silence between events', async () => {
    vi.useFakeTimers()
    const handler = sseHandler('GET', PATH, async (_info, stream) => {
      await stream.send('run.started', {})
      for (let beat = 0; beat < 10; beat++) {
        await stream.wait(500)
        await stream.comment()
      }
      await stream.send('run.completed', {})
    })
    server.use(handler)
    const run = watch({ heartbeatTimeoutMs: 1_000 })
    await vi.advanceTimersByTimeAsync(5_000)
    await run.closed
    expect(handler.connections).toHaveLength(1)
    expect(run.ids).toEqual(ids(1, 2))
  })

  it('takes a buffering proxy for a dead connection: heartbeats held back trip the watchdog', async () => {
    vi.useFakeTimers()
    const handler = sseHandler(
      'GET',
      STREAM_URL,
      bufferingProxy(async (_info, stream) => {
        for (const event of RUN.slice(0, 3)) {
          await stream.send(event.type, event.data)
          await stream.comment()
          await stream.wait(500)
        }
        await stream.close()
      }),
    )
    server.use(handler)
    const run = watch({ heartbeatTimeoutMs: 1_000, backoff: false })
    await vi.advanceTimersByTimeAsync(1_000)
    await run.closed
    expect(run.ids).toEqual([])
    expect(run.errors.map((error) => (isTaskwireError(error) ? error.code : error))).toEqual(['timeout'])
    expect(handler.connections[0]?.end).toBe('client-closed')
  })

  it('gets everything at once behind a buffering proxy when the stream ends', async () => {
    vi.useFakeTimers()
    const handler = sseHandler('GET', PATH, bufferingProxy(replayFrom(RUN)))
    server.use(handler)
    const run = watch({ heartbeatTimeoutMs: false })
    await vi.advanceTimersByTimeAsync(0)
    await run.closed
    expect(run.ids).toEqual(ids(1, 2, 3, 4, 5, 6))
    expect(run.statuses).toEqual(['connecting', 'open', 'closed'])
  })

  it('decodes a stream that drips one byte at a time, multi-byte characters split', async () => {
    server.use(sseHandler('GET', PATH, slowDrip(replayFrom(RUN), { chunkBytes: 1, intervalMs: 0 })))
    const run = watch()
    await run.closed
    expect(run.ids).toEqual(ids(1, 2, 3, 4, 5, 6))
    expect(run.state().tasks[0]?.note).toBe('héllo 🚀')
  })

  it('resets its state when the reconnection lost events and the server resets it', async () => {
    const handler = sseHandler('GET', PATH, gapOnReconnect(RUN, { dropAfter: 2, missing: 2, mode: 'reset' }))
    server.use(handler)
    const run = watch()
    await run.closed
    expect(handler.lastEventIds()).toEqual([null, '1-2'])
    // Events 3 and 4 never arrive; the reset carries the state through them.
    expect(run.ids).toEqual(ids(1, 2, 4, 5, 6))
    expect(run.resyncs).toEqual([{ kind: 'fresh' }, { kind: 'reset', reason: 'cursor-expired' }])
    expect(withoutTimes(run.state())).toEqual(withoutTimes(stateAfter(6)))
  })

  it('takes a replay whose ids jump as a replay, missing the lost events', async () => {
    // A live run, so the client stays to report how the reconnection continued.
    server.use(sseHandler('GET', PATH, gapOnReconnect(RUN.slice(0, 5), { dropAfter: 2, missing: 2 })))
    const run = watch()
    await vi.waitFor(() => expect(run.resyncs).toEqual([{ kind: 'fresh' }, { kind: 'replayed', events: 1 }]))
    expect(run.ids).toEqual(ids(1, 2, 5))
    expect(run.state().agents.planner).toBeUndefined()
    expect(run.state().tasks[0]?.status).toBe('completed')
  })

  it('resets a reader whose cursor the stream never issued', async () => {
    // A live run (no terminal event yet), so the client stays after the reset.
    server.use(sseHandler('GET', PATH, replayFrom(RUN.slice(0, 4))))
    const run = watch({ lastEventId: '999-3' })
    await vi.waitFor(() => expect(run.resyncs).toEqual([{ kind: 'reset', reason: 'cursor-unknown' }]))
    expect(withoutTimes(run.state())).toEqual(withoutTimes(stateAfter(4)))
    expect(run.statuses.at(-1)).toBe('open')
  })

  it('reports malformed frames and invalid events without losing the stream', async () => {
    const bad: Envelope = {
      type: 'task.progress',
      stream: 'job-7',
      id: '1-2',
      ts: 'now',
      data: { percent: 'x' },
    }
    server.use(
      sseHandler('GET', PATH, async (_info, stream) => {
        await stream.send('run.started', {})
        await stream.raw('id: 1-x\ndata: {not json\n\n')
        await stream.raw(encodeEvent(bad))
        await stream.send('run.completed', {}, { id: 3 })
      }),
    )
    const run = watch()
    await run.closed
    expect(run.ids).toEqual(ids(1, 3))
    expect(run.invalid.map((error) => error.code)).toEqual(['invalid-frame', 'invalid-event'])
    expect(run.errors).toEqual([])
  })

  it('gives up on a drop when backoff is off, saying the network failed', async () => {
    server.use(sseHandler('GET', PATH, replayFrom(RUN, { dropAfter: 1 })))
    const run = watch({ backoff: false })
    await run.closed
    expect(run.ids).toEqual(ids(1))
    expect(run.errors.map((error) => (isTaskwireError(error) ? error.code : error))).toEqual(['network'])
  })
})

describe('the client against scripted streams, over EventSource', () => {
  const options = { transport: eventSourceTransport, EventSource } as const

  it('resumes after each drop with ?lastEventId=, asking for data-only frames', async () => {
    const handler = sseHandler('GET', PATH, replayFrom(RUN, { dropAfter: 2 }))
    server.use(handler)
    const run = watch(options)
    await run.closed
    expect(run.ids).toEqual(ids(1, 2, 3, 4, 5, 6))
    expect(handler.lastEventIds()).toEqual([null, '1-2', '1-4'])
    expect(handler.connections.map((connection) => new URL(connection.request.url).search)).toEqual([
      '?framing=data-only',
      '?framing=data-only&lastEventId=1-2',
      '?framing=data-only&lastEventId=1-4',
    ])
    expect(run.errors).toEqual([])
  })

  it('stops on a 204 and fails for good on a 401', async () => {
    const handler = sseHandler('GET', PATH, async (info, stream) =>
      stream.respond(info.attempt === 1 ? 204 : 401),
    )
    server.use(handler)
    const done = watch(options)
    await done.closed
    expect(done.errors).toEqual([])
    const refused = watch(options)
    await refused.closed
    expect(refused.errors.map((error) => (isTaskwireError(error) ? error.code : error))).toEqual([
      'unauthorized',
    ])
    expect(handler.connections.map((connection) => connection.status)).toEqual([204, 401])
  })

  it('reports a malformed frame and keeps the stream', async () => {
    server.use(
      sseHandler('GET', PATH, async (_info, stream) => {
        await stream.send('run.started', {})
        await stream.raw('data: {not json\n\n')
        await stream.send('run.completed', {})
      }),
    )
    const run = watch(options)
    await run.closed
    expect(run.ids).toEqual(ids(1, 2))
    expect(run.invalid.map((error) => error.code)).toEqual(['invalid-frame'])
  })
})
