import { afterEach, describe, expect, it, vi } from 'vitest'
import { TaskwireError } from '../../src/core/index.js'
import { SHUTDOWN_REASON, settleExecutions } from '../../src/server/execution.js'
import {
  type Broker,
  cancelExecution,
  createHub,
  createMemoryBroker,
  type Hub,
  startExecution,
} from '../../src/server/index.js'
import { createTestSink } from './test-sink.js'

const hubs: Hub[] = []
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close()
})

function makeHub(options: { now?: () => number } = {}): Hub {
  const hub = createHub({ heartbeatMs: false, ...options })
  hubs.push(hub)
  return hub
}

function deferred<T = void>(): {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
} {
  let resolve: (value: T) => void = () => {}
  let reject: (error: unknown) => void = () => {}
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const types = async (hub: Hub, stream: string): Promise<string[]> =>
  (await hub.read(stream)).events.map((event) => event.type)

describe('startExecution', () => {
  it('publishes run.started, the run events and run.completed with the output', async () => {
    const hub = makeHub()
    const execution = await startExecution(hub, {
      stream: 'run-1',
      started: { workflowId: 'wf', nodes: [{ nodeId: 'fetch' }] },
      run: async ({ emit, stream }) => {
        expect(stream).toBe('run-1')
        await emit('node.started', { nodeId: 'fetch' })
        await emit('node.completed', { nodeId: 'fetch', output: 200 })
        return { pages: 1 }
      },
    })
    expect(execution).toMatchObject({ stream: 'run-1', created: true })
    expect(await execution.done).toBe('completed')
    expect(await types(hub, 'run-1')).toEqual([
      'run.started',
      'node.started',
      'node.completed',
      'run.completed',
    ])
    const state = await hub.snapshot('run-1')
    expect(state).toMatchObject({ status: 'completed', workflowId: 'wf', output: { pages: 1 } })
  })

  it('gives each execution a fresh stream by default', async () => {
    const hub = makeHub()
    const a = await startExecution(hub, { run: () => undefined })
    const b = await startExecution(hub, { run: () => undefined })
    expect(a.stream).not.toBe(b.stream)
    expect(a.stream).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('starts one run for two concurrent starts with the same idempotency key', async () => {
    const hub = makeHub()
    const gate = deferred()
    const run = vi.fn(async () => {
      await gate.promise
    })
    const [first, second] = await Promise.all([
      startExecution(hub, { idempotencyKey: 'click-1', run }),
      startExecution(hub, { idempotencyKey: 'click-1', run }),
    ])
    expect(first.created).toBe(true)
    expect(second.created).toBe(false)
    expect(second.stream).toBe(first.stream)
    gate.resolve()
    expect(await second.done).toBe('completed')
    expect(run).toHaveBeenCalledOnce()
    const again = await startExecution(hub, { idempotencyKey: 'click-1', run })
    expect(again).toMatchObject({ created: false, stream: first.stream })
    expect(await types(hub, first.stream)).toEqual(['run.started', 'run.completed'])
  })

  it('forgets an idempotency key once its window after the run has passed', async () => {
    let now = 0
    const hub = makeHub({ now: () => now })
    const start = () => startExecution(hub, { idempotencyKey: 'k', idempotencyTtlMs: 1000, run: () => 1 })
    const first = await start()
    await first.done
    now = 999
    expect((await start()).created).toBe(false)
    now = 2000
    const later = await start()
    expect(later.created).toBe(true)
    expect(later.stream).not.toBe(first.stream)
    await later.done
  })

  it('keeps idempotency keys apart between hubs on brokers of their own', async () => {
    const a = await startExecution(makeHub(), { idempotencyKey: 'k', run: () => 1 })
    const b = await startExecution(makeHub(), { idempotencyKey: 'k', run: () => 1 })
    expect(b.created).toBe(true)
    expect(b.stream).not.toBe(a.stream)
  })

  it('returns the running execution when one is started on the same stream', async () => {
    const hub = makeHub()
    const gate = deferred()
    const first = await startExecution(hub, { stream: 's', run: () => gate.promise })
    const second = await startExecution(hub, { stream: 's', run: () => undefined })
    expect(second).toMatchObject({ created: false, stream: 's' })
    gate.resolve()
    await first.done
  })

  it('goes on running when every subscriber has left', async () => {
    const hub = makeHub()
    const step = deferred()
    const execution = await startExecution(hub, {
      stream: 'detached',
      run: async ({ emit }) => {
        await emit('task.created', { taskId: 't1' })
        await step.promise
        await emit('task.completed', { taskId: 't1' })
      },
    })
    const subscription = await hub.subscribe('detached')
    const sink = createTestSink()
    subscription?.start(sink)
    await sink.until((s) => s.events.some((event) => event.event === 'task.created'))
    subscription?.close()
    expect(hub.stats().connections).toBe(0)
    step.resolve()
    expect(await execution.done).toBe('completed')
    expect(await types(hub, 'detached')).toEqual([
      'run.started',
      'task.created',
      'task.completed',
      'run.completed',
    ])
    const secondId = (await hub.read('detached')).events[1]?.id
    const resumed = await hub.subscribe('detached', { lastEventId: secondId })
    const late = createTestSink()
    resumed?.start(late)
    expect(late.events.map((event) => event.event)).toEqual(['task.completed', 'run.completed'])
  })

  it('publishes run.failed with the error message when the run throws', async () => {
    const hub = makeHub()
    const execution = await startExecution(hub, {
      stream: 'failing',
      run: async () => {
        throw Object.assign(new Error('disk full'), { code: 'ENOSPC' })
      },
    })
    expect(await execution.done).toBe('failed')
    const events = (await hub.read('failing')).events
    expect(events.at(-1)).toMatchObject({
      type: 'run.failed',
      data: { error: { message: 'disk full', code: 'ENOSPC' } },
    })
    expect((await hub.snapshot('failing')).error).toEqual({ message: 'disk full', code: 'ENOSPC' })
  })

  it('aborts the signal and publishes run.cancelled on cancel, ending the subscribers', async () => {
    const hub = makeHub()
    const started = deferred()
    let signal: AbortSignal | undefined
    const execution = await startExecution(hub, {
      stream: 'cancel-me',
      run: async (context) => {
        signal = context.signal
        started.resolve()
        await new Promise((_, reject) =>
          context.signal.addEventListener('abort', () => reject(context.signal.reason)),
        )
      },
    })
    await started.promise
    const subscription = await hub.subscribe('cancel-me')
    const sink = createTestSink()
    subscription?.start(sink)
    expect(await cancelExecution(hub, 'cancel-me', { reason: 'user pressed stop' })).toBe(true)
    expect(signal?.aborted).toBe(true)
    expect(await execution.done).toBe('cancelled')
    expect(await subscription?.ended).toBe('terminal')
    expect(sink.envelopes().at(-1)).toMatchObject({
      type: 'run.cancelled',
      data: { reason: 'user pressed stop' },
    })
    expect(await types(hub, 'cancel-me')).toEqual(['run.started', 'run.cancelled'])
    expect(await cancelExecution(hub, 'cancel-me')).toBe(false)
    expect(await cancelExecution(hub, 'never-started')).toBe(false)
  })

  it('refuses events emitted after cancellation', async () => {
    const hub = makeHub()
    const gate = deferred()
    const running = deferred()
    const emitted = deferred<unknown>()
    const execution = await startExecution(hub, {
      stream: 'late-emit',
      run: async ({ emit }) => {
        running.resolve()
        await gate.promise
        emitted.resolve(await emit('task.created', { taskId: 'late' }).catch((error: unknown) => error))
      },
    })
    await running.promise
    await execution.cancel()
    gate.resolve()
    const error = await emitted.promise
    expect(error).toBeInstanceOf(TaskwireError)
    expect((error as TaskwireError).code).toBe('aborted')
    expect(await types(hub, 'late-emit')).toEqual(['run.started', 'run.cancelled'])
  })

  it('cancels when the given signal aborts', async () => {
    const hub = makeHub()
    const controller = new AbortController()
    const execution = await startExecution(hub, {
      stream: 'signalled',
      signal: controller.signal,
      run: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    })
    controller.abort(new Error('request timed out'))
    expect(await execution.done).toBe('cancelled')
    expect((await hub.read('signalled')).events.at(-1)).toMatchObject({
      type: 'run.cancelled',
      data: { reason: 'request timed out' },
    })
  })

  it('publishes no second terminal event when the run emits its own', async () => {
    const hub = makeHub()
    const execution = await startExecution(hub, {
      stream: 'own-terminal',
      started: false,
      run: async ({ emit }) => {
        await emit('run.started', { executionId: 'e-1' })
        await emit('run.failed', { error: { message: 'validation failed' } })
        const after = await emit('task.created', { taskId: 'x' }).catch((error: unknown) => error)
        expect((after as TaskwireError).code).toBe('stream-closed')
      },
    })
    expect(await execution.done).toBe('failed')
    expect(await types(hub, 'own-terminal')).toEqual(['run.started', 'run.failed'])
  })

  it('publishes run.failed itself when the run emits a terminal event the catalog refuses', async () => {
    const hub = makeHub()
    const execution = await startExecution(hub, {
      stream: 'bad-terminal',
      run: async ({ emit }) => {
        void emit('run.failed', { error: { message: 42 as unknown as string } }).catch(() => undefined)
        throw new Error('gave up')
      },
    })
    expect(await execution.done).toBe('failed')
    expect((await hub.read('bad-terminal')).events.at(-1)).toMatchObject({
      type: 'run.failed',
      data: { error: { message: 'gave up' } },
    })
  })

  it('never calls the run when cancelled before it started', async () => {
    const hub = makeHub()
    const run = vi.fn()
    // Cancelled while the start is still claiming its stream: the run must never be called.
    const controller = new AbortController()
    const starting = startExecution(hub, { stream: 'early', run, signal: controller.signal })
    controller.abort()
    const execution = await starting
    expect(await execution.done).toBe('cancelled')
    expect(run).not.toHaveBeenCalled()
    expect(await types(hub, 'early')).toEqual(['run.started', 'run.cancelled'])
  })

  it('returns the execution only once run.started is in the log, so any process can serve it', async () => {
    const broker = createMemoryBroker()
    // A broker that takes a while to store each event, like a remote one.
    const slow: typeof broker = {
      ...broker,
      append: (...args) =>
        new Promise((resolve) => setTimeout(resolve, 20)).then(() => broker.append(...args)),
    }
    const hub = createHub({ heartbeatMs: false, broker: slow })
    const execution = await startExecution(hub, { stream: 'announced', run: () => new Promise(() => {}) })
    const read = await hub.read('announced', null)
    expect(read.events.map((event) => event.type)).toEqual(['run.started'])
    await execution.cancel()
    await hub.close()
  })

  it('rejects done and reports through onError when run.started cannot be published', async () => {
    const broker = createMemoryBroker()
    const down = new TaskwireError('broker', 'The broker refuses appends.')
    const hub = createHub({
      heartbeatMs: false,
      broker: {
        ...broker,
        append: () => Promise.reject(down),
      },
    })
    const run = vi.fn()
    const onError = vi.fn()
    const execution = await startExecution(hub, { run, onError })
    await expect(execution.done).rejects.toBe(down)
    expect(run).not.toHaveBeenCalled()
    expect(onError).toHaveBeenCalledWith(down)
    await hub.close()
    await broker.close()
  })

  it('runs nothing and claims nothing once the hub closed: done rejects with stream-closed', async () => {
    const hub = makeHub()
    await hub.close()
    const run = vi.fn()
    const onError = vi.fn()
    const execution = await startExecution(hub, { run, onError, idempotencyKey: 'late' })
    await expect(execution.done).rejects.toMatchObject({ code: 'stream-closed' })
    expect(run).not.toHaveBeenCalled()
    expect(onError).toHaveBeenCalledOnce()
    expect(onError.mock.calls[0]?.[0]).toMatchObject({ code: 'stream-closed' })
  })

  it('refuses an idempotency key longer than 256 characters, claiming nothing', async () => {
    const hub = makeHub()
    const run = vi.fn()
    await expect(startExecution(hub, { idempotencyKey: 'k'.repeat(257), run })).rejects.toMatchObject({
      code: 'invalid-option',
    })
    expect(await hub.broker.lookup(`execution:key:${JSON.stringify([null, 'k'.repeat(257)])}`)).toBeNull()
    expect(run).not.toHaveBeenCalled()
    expect((await startExecution(hub, { idempotencyKey: 'k'.repeat(256), run })).created).toBe(true)
  })

  it('rejects an empty scope as an invalid option', async () => {
    await expect(startExecution(makeHub(), { scope: '', run: () => 1 })).rejects.toMatchObject({
      code: 'invalid-option',
    })
  })
})

describe('idempotency keys scoped to the caller', () => {
  it('starts a run for each of two callers who send the same key', async () => {
    const hub = makeHub()
    const run = vi.fn(() => 'done')
    const [alice, bob, anonymous] = await Promise.all([
      startExecution(hub, { scope: 'alice', idempotencyKey: 'k-1', run }),
      startExecution(hub, { scope: 'bob', idempotencyKey: 'k-1', run }),
      startExecution(hub, { idempotencyKey: 'k-1', run }),
    ])
    expect([alice.created, bob.created, anonymous.created]).toEqual([true, true, true])
    expect(new Set([alice.stream, bob.stream, anonymous.stream]).size).toBe(3)
    await Promise.all([alice.done, bob.done, anonymous.done])
    expect(run).toHaveBeenCalledTimes(3)
    const again = await startExecution(hub, { scope: 'bob', idempotencyKey: 'k-1', run })
    expect(again).toMatchObject({ created: false, stream: bob.stream })
  })

  it('answers with the execution while it runs and for idempotencyTtlMs after its terminal event', async () => {
    let now = 0
    const hub = makeHub({ now: () => now })
    const gate = deferred()
    const start = () =>
      startExecution(hub, {
        scope: 'alice',
        idempotencyKey: 'k',
        idempotencyTtlMs: 1000,
        run: () => gate.promise,
      })
    const first = await start()
    now = 5000 // running far past the window: still the same run
    expect(await start()).toMatchObject({ created: false, stream: first.stream })
    gate.resolve()
    await first.done
    now = 5999
    expect(await start()).toMatchObject({ created: false, stream: first.stream })
    now = 6000
    const second = await start()
    expect(second.created).toBe(true)
    expect(second.stream).not.toBe(first.stream)
    await second.done
  })
})

describe('cancelExecution scoped to the caller', () => {
  function startWaiting(hub: Hub, scope?: string) {
    return startExecution(hub, {
      ...(scope === undefined ? {} : { scope }),
      stream: 'owned',
      run: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    })
  }

  it('does not cancel a scoped execution without a scope or with another scope', async () => {
    const hub = makeHub()
    const execution = await startWaiting(hub, 'alice')
    expect(await cancelExecution(hub, 'owned')).toBe(false)
    expect(await cancelExecution(hub, 'owned', { scope: 'mallory', reason: 'mine now' })).toBe(false)
    expect(execution.signal.aborted).toBe(false)
    expect(await types(hub, 'owned')).toEqual(['run.started'])
    expect(await cancelExecution(hub, 'owned', { scope: 'alice', reason: 'stop' })).toBe(true)
    expect(await execution.done).toBe('cancelled')
    expect((await hub.read('owned')).events.at(-1)).toMatchObject({
      type: 'run.cancelled',
      data: { reason: 'stop' },
    })
  })

  it('lets any scope cancel an execution started without one', async () => {
    const hub = makeHub()
    const execution = await startWaiting(hub)
    expect(await cancelExecution(hub, 'owned', { scope: 'bob' })).toBe(true)
    expect(await execution.done).toBe('cancelled')
  })
})

describe('settleExecutions', () => {
  it('cancels every running execution with the shutdown reason and resolves once they settled', async () => {
    const hub = makeHub()
    const onError = vi.fn()
    const consoleError = vi.spyOn(console, 'error')
    const unhandled = vi.fn()
    process.on('unhandledRejection', unhandled)
    const late = deferred()
    const lateEmit = deferred<unknown>()
    const waiting = await startExecution(hub, {
      stream: 'waiting',
      onError,
      run: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    })
    // Ignores its signal and emits after the hub closed.
    const stubborn = await startExecution(hub, {
      stream: 'stubborn',
      onError,
      run: async ({ emit }) => {
        await late.promise
        try {
          await emit('task.created', { taskId: 'late' })
        } catch (error) {
          lateEmit.resolve(error)
          throw error
        }
      },
    })
    await Promise.all([hub.read('waiting'), hub.read('stubborn')])
    await settleExecutions(hub, 'cancel')
    expect(await waiting.done).toBe('cancelled')
    expect(await stubborn.done).toBe('cancelled')
    for (const stream of ['waiting', 'stubborn']) {
      expect((await hub.read(stream)).events.map((event) => [event.type, event.data])).toEqual([
        ['run.started', {}],
        ['run.cancelled', { reason: SHUTDOWN_REASON }],
      ])
    }
    await hub.close()
    late.resolve()
    expect(await lateEmit.promise).toMatchObject({ code: 'aborted' })
    // One turn for a rejection nobody handled to be reported.
    await new Promise<void>((resolve) => setImmediate(resolve))
    process.off('unhandledRejection', unhandled)
    expect(unhandled).not.toHaveBeenCalled()
    expect(onError).not.toHaveBeenCalled()
    expect(consoleError).not.toHaveBeenCalled()
    consoleError.mockRestore()
  })

  it('waits for every running execution to finish with await', async () => {
    const hub = makeHub()
    const gate = deferred()
    const execution = await startExecution(hub, {
      stream: 'finishing',
      run: async ({ emit }) => {
        await gate.promise
        await emit('task.created', { taskId: 't1' })
        return 'ok'
      },
    })
    let settled = false
    const settling = settleExecutions(hub, 'await').then(() => {
      settled = true
    })
    await hub.read('finishing')
    await Promise.resolve()
    expect(settled).toBe(false)
    gate.resolve()
    await settling
    expect(await execution.done).toBe('completed')
    expect(await types(hub, 'finishing')).toEqual(['run.started', 'task.created', 'run.completed'])
  })

  it('starts no new run once the hub is shutting down', async () => {
    const hub = makeHub()
    await settleExecutions(hub, 'await')
    const run = vi.fn()
    const onError = vi.fn()
    const execution = await startExecution(hub, { stream: 'too-late', run, onError })
    await expect(execution.done).rejects.toMatchObject({ code: 'stream-closed' })
    expect(run).not.toHaveBeenCalled()
    expect(await types(hub, 'too-late')).toEqual([])
  })

  it('lets hub.close() end a run in flight as cancelled, printing nothing', async () => {
    const hub = makeHub()
    const consoleError = vi.spyOn(console, 'error')
    const running = deferred()
    const execution = await startExecution(hub, {
      stream: 'in-flight',
      run: async ({ emit }) => {
        running.resolve()
        await new Promise<void>((resolve) => setImmediate(resolve))
        await emit('task.created', { taskId: 'after-close' })
      },
    })
    await running.promise
    await hub.close()
    expect(await execution.done).toBe('cancelled')
    await new Promise<void>((resolve) => setImmediate(resolve))
    expect(consoleError).not.toHaveBeenCalled()
    consoleError.mockRestore()
  })

  it('resolves at once for a hub that never ran an execution', async () => {
    await expect(settleExecutions(makeHub(), 'cancel')).resolves.toBeUndefined()
  })
})

describe('executions across hubs sharing one broker', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup()
  })

  /**
   * Two hubs on one memory broker, as two servers on one Redis. One clock for the broker and
   * both hubs: the idempotency window is counted by the broker's. `deafA` gives hub A a
   * broker that never delivers cross-process messages to it, as a process that died
   * without its claims having lapsed yet.
   */
  function twoHubs(options: { deafA?: boolean } = {}) {
    const clock = { now: 0 }
    const now = () => clock.now
    const broker = createMemoryBroker({ now })
    const deaf: Broker = { ...broker, listen: async () => () => undefined }
    const hubA = createHub({ heartbeatMs: false, now, broker: options.deafA ? deaf : broker })
    const hubB = createHub({ heartbeatMs: false, now, broker })
    cleanups.push(async () => {
      await hubA.close()
      await hubB.close()
      await broker.close()
    })
    return { hubA, hubB, clock }
  }

  const waitForAbort = ({ signal }: { signal: AbortSignal }): Promise<never> =>
    new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))

  it('answers a repeated start of the same stream and key after the end with the ended run', async () => {
    const { hubA, hubB } = twoHubs()
    const run = vi.fn(() => 'done')
    const first = await startExecution(hubA, { stream: 'job-1', idempotencyKey: 'k', run })
    expect(await first.done).toBe('completed')
    const again = await startExecution(hubA, { stream: 'job-1', idempotencyKey: 'k', run })
    const elsewhere = await startExecution(hubB, { stream: 'job-1', idempotencyKey: 'k', run })
    expect([again.created, elsewhere.created]).toEqual([false, false])
    expect(await elsewhere.done).toBe('completed')
    expect(run).toHaveBeenCalledOnce()
    expect(await types(hubB, 'job-1')).toEqual(['run.started', 'run.completed'])
  })

  it('frees the key of a start refused by a hub shutting down, so another server runs it', async () => {
    const { hubA, hubB } = twoHubs()
    await settleExecutions(hubA, 'await')
    const refusedRun = vi.fn()
    const refused = await startExecution(hubA, { idempotencyKey: 'k', run: refusedRun, onError: () => {} })
    await expect(refused.done).rejects.toMatchObject({ code: 'stream-closed' })
    const run = vi.fn(() => 1)
    const retried = await startExecution(hubB, { idempotencyKey: 'k', run })
    expect(retried.created).toBe(true)
    expect(await retried.done).toBe('completed')
    expect(run).toHaveBeenCalledOnce()
    expect(refusedRun).not.toHaveBeenCalled()
  })

  it("cancels a dead owner's run even when the cancelling hub listens for cancels of its own", async () => {
    const { hubA, hubB } = twoHubs({ deafA: true })
    // Hub B has run an execution, so it listens for cancels of its own runs.
    expect(await (await startExecution(hubB, { run: () => 1 })).done).toBe('completed')
    const orphan = await startExecution(hubA, { stream: 'orphan', run: () => new Promise(() => {}) })
    expect(await cancelExecution(hubB, 'orphan', { reason: 'owner gone' })).toBe(true)
    expect(await types(hubB, 'orphan')).toEqual(['run.started', 'run.cancelled'])
    expect(orphan.created).toBe(true)
  })

  it('runs once for the same idempotency key started concurrently on both hubs', async () => {
    const { hubA, hubB } = twoHubs()
    const gate = deferred()
    const run = vi.fn(async () => {
      await gate.promise
      throw new Error('upstream refused')
    })
    const [a, b] = await Promise.all([
      startExecution(hubA, { scope: 'alice', idempotencyKey: 'click-1', run }),
      startExecution(hubB, { scope: 'alice', idempotencyKey: 'click-1', run }),
    ])
    expect(b.stream).toBe(a.stream)
    expect([a, b].filter((execution) => execution.created)).toHaveLength(1)
    // B follows the log while the run is still going.
    const followed = b.done
    gate.resolve()
    expect(await a.done).toBe('failed')
    expect(await followed).toBe('failed')
    expect(run).toHaveBeenCalledOnce()
    expect(await types(hubB, a.stream)).toEqual(['run.started', 'run.failed'])
  })

  it('cancels from hub B a run executing on hub A, only for the scope that started it', async () => {
    const { hubA, hubB } = twoHubs()
    const running = deferred()
    const execution = await startExecution(hubA, {
      scope: 'alice',
      run: (context) => {
        running.resolve()
        return waitForAbort(context)
      },
    })
    await running.promise
    expect(await cancelExecution(hubB, execution.stream, { scope: 'mallory', reason: 'mine now' })).toBe(
      false,
    )
    expect(await cancelExecution(hubB, execution.stream)).toBe(false)
    expect(execution.signal.aborted).toBe(false)
    expect(await types(hubB, execution.stream)).toEqual(['run.started'])

    expect(await cancelExecution(hubB, execution.stream, { scope: 'alice', reason: 'stop' })).toBe(true)
    expect(execution.signal.aborted).toBe(true)
    expect(await execution.done).toBe('cancelled')
    expect((await hubB.read(execution.stream)).events.map((event) => [event.type, event.data])).toEqual([
      ['run.started', {}],
      ['run.cancelled', { reason: 'stop' }],
    ])
    expect(await cancelExecution(hubB, execution.stream, { scope: 'alice' })).toBe(false)
  })

  it('publishes run.cancelled from hub B when the hub running the execution no longer listens', async () => {
    const { hubA, hubB } = twoHubs({ deafA: true })
    const running = deferred()
    // The owner's process is gone: its run never ends and never hears the cancel. Its
    // signal is only aborted by the teardown's hub.close(), after the assertions.
    const execution = await startExecution(hubA, {
      stream: 'orphan',
      onError: () => undefined,
      run: (context) => {
        running.resolve()
        return waitForAbort(context)
      },
    })
    await running.promise
    expect(await cancelExecution(hubB, 'orphan', { reason: 'owner gone' })).toBe(true)
    expect(execution.signal.aborted).toBe(false)
    expect((await hubB.read('orphan')).events.map((event) => [event.type, event.data])).toEqual([
      ['run.started', {}],
      ['run.cancelled', { reason: 'owner gone' }],
    ])
    expect((await hubB.snapshot('orphan')).status).toBe('cancelled')
    expect(await cancelExecution(hubB, 'orphan')).toBe(false)
  })

  it('answers a key from the other hub within the idempotency window, and starts anew after it', async () => {
    const { hubA, hubB, clock } = twoHubs()
    const run = vi.fn(() => 'ok')
    const start = (hub: Hub) =>
      startExecution(hub, { scope: 'alice', idempotencyKey: 'k', idempotencyTtlMs: 1000, run })
    const first = await start(hubA)
    expect(await first.done).toBe('completed')
    clock.now = 999
    const repeated = await start(hubB)
    expect(repeated).toMatchObject({ created: false, stream: first.stream })
    expect(await repeated.done).toBe('completed')
    expect(run).toHaveBeenCalledOnce()
    clock.now = 1000
    const later = await start(hubB)
    expect(later.created).toBe(true)
    expect(later.stream).not.toBe(first.stream)
    expect(await later.done).toBe('completed')
    expect(run).toHaveBeenCalledTimes(2)
  })
})
