import { afterEach, describe, expect, it, vi } from 'vitest'
import { TaskwireError } from '../../src/core/index.js'
import { SHUTDOWN_REASON, settleExecutions } from '../../src/server/execution.js'
import { cancelExecution, createHub, type Hub, startExecution } from '../../src/server/index.js'
import { createTestSink } from './test-sink.js'

const hubs: Hub[] = []
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close()
})

function makeHub(): Hub {
  const hub = createHub({ heartbeatMs: false })
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
    const execution = startExecution(hub, {
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

  it('gives each execution a fresh stream by default', () => {
    const hub = makeHub()
    const a = startExecution(hub, { run: () => undefined })
    const b = startExecution(hub, { run: () => undefined })
    expect(a.stream).not.toBe(b.stream)
    expect(a.stream).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('starts one run for two concurrent starts with the same idempotency key', async () => {
    const hub = makeHub()
    const gate = deferred()
    const run = vi.fn(async () => {
      await gate.promise
    })
    const [first, second] = [
      startExecution(hub, { idempotencyKey: 'click-1', run }),
      startExecution(hub, { idempotencyKey: 'click-1', run }),
    ]
    expect(first.created).toBe(true)
    expect(second.created).toBe(false)
    expect(second.stream).toBe(first.stream)
    gate.resolve()
    expect(await second.done).toBe('completed')
    expect(run).toHaveBeenCalledOnce()
    const again = startExecution(hub, { idempotencyKey: 'click-1', run })
    expect(again).toMatchObject({ created: false, stream: first.stream })
    expect(await types(hub, first.stream)).toEqual(['run.started', 'run.completed'])
  })

  it('forgets an idempotency key once its window after the run has passed', async () => {
    const hub = makeHub()
    let now = 0
    const first = startExecution(hub, {
      idempotencyKey: 'k',
      idempotencyTtlMs: 1000,
      now: () => now,
      run: () => 1,
    })
    await first.done
    now = 999
    expect(
      startExecution(hub, { idempotencyKey: 'k', idempotencyTtlMs: 1000, now: () => now, run: () => 1 })
        .created,
    ).toBe(false)
    now = 2000
    const later = startExecution(hub, {
      idempotencyKey: 'k',
      idempotencyTtlMs: 1000,
      now: () => now,
      run: () => 1,
    })
    expect(later.created).toBe(true)
    expect(later.stream).not.toBe(first.stream)
    await later.done
  })

  it('keeps idempotency keys apart between hubs', () => {
    const a = startExecution(makeHub(), { idempotencyKey: 'k', run: () => 1 })
    const b = startExecution(makeHub(), { idempotencyKey: 'k', run: () => 1 })
    expect(b.created).toBe(true)
    expect(b.stream).not.toBe(a.stream)
  })

  it('returns the running execution when one is started on the same stream', async () => {
    const hub = makeHub()
    const gate = deferred()
    const first = startExecution(hub, { stream: 's', run: () => gate.promise })
    const second = startExecution(hub, { stream: 's', run: () => undefined })
    expect(second).toMatchObject({ created: false, stream: 's' })
    gate.resolve()
    await first.done
  })

  it('goes on running when every subscriber has left', async () => {
    const hub = makeHub()
    const step = deferred()
    const execution = startExecution(hub, {
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
    const execution = startExecution(hub, {
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
    const execution = startExecution(hub, {
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
    const execution = startExecution(hub, {
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
    const execution = startExecution(hub, {
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
    const execution = startExecution(hub, {
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
    const execution = startExecution(hub, {
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
    const execution = startExecution(hub, { stream: 'early', run })
    await execution.cancel()
    expect(await execution.done).toBe('cancelled')
    expect(run).not.toHaveBeenCalled()
    expect(await types(hub, 'early')).toEqual(['run.started', 'run.cancelled'])
  })

  it('rejects done and reports through onError when run.started cannot be published', async () => {
    const hub = makeHub()
    await hub.close()
    const run = vi.fn()
    const onError = vi.fn()
    const execution = startExecution(hub, { run, onError })
    await expect(execution.done).rejects.toMatchObject({ code: 'stream-closed' })
    expect(run).not.toHaveBeenCalled()
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'stream-closed' }))
  })

  it('rejects an empty scope as an invalid option', () => {
    expect(() => startExecution(makeHub(), { scope: '', run: () => 1 })).toThrow(
      expect.objectContaining({ code: 'invalid-option' }) as unknown as TaskwireError,
    )
  })
})

describe('idempotency keys scoped to the caller', () => {
  it('starts a run for each of two callers who send the same key', async () => {
    const hub = makeHub()
    const run = vi.fn(() => 'done')
    const alice = startExecution(hub, { scope: 'alice', idempotencyKey: 'k-1', run })
    const bob = startExecution(hub, { scope: 'bob', idempotencyKey: 'k-1', run })
    const anonymous = startExecution(hub, { idempotencyKey: 'k-1', run })
    expect([alice.created, bob.created, anonymous.created]).toEqual([true, true, true])
    expect(new Set([alice.stream, bob.stream, anonymous.stream]).size).toBe(3)
    await Promise.all([alice.done, bob.done, anonymous.done])
    expect(run).toHaveBeenCalledTimes(3)
    const again = startExecution(hub, { scope: 'bob', idempotencyKey: 'k-1', run })
    expect(again).toMatchObject({ created: false, stream: bob.stream })
  })

  it('answers with the execution while it runs and for idempotencyTtlMs after its terminal event', async () => {
    const hub = makeHub()
    let now = 0
    const gate = deferred()
    const start = () =>
      startExecution(hub, {
        scope: 'alice',
        idempotencyKey: 'k',
        idempotencyTtlMs: 1000,
        now: () => now,
        run: () => gate.promise,
      })
    const first = start()
    now = 5000 // running far past the window: still the same run
    expect(start()).toMatchObject({ created: false, stream: first.stream })
    gate.resolve()
    await first.done
    now = 5999
    expect(start()).toMatchObject({ created: false, stream: first.stream })
    now = 6000
    const second = start()
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
    const execution = startWaiting(hub, 'alice')
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
    const execution = startWaiting(hub)
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
    const waiting = startExecution(hub, {
      stream: 'waiting',
      onError,
      run: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    })
    // Ignores its signal and emits after the hub closed.
    const stubborn = startExecution(hub, {
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
    const execution = startExecution(hub, {
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
    const execution = startExecution(hub, { stream: 'too-late', run, onError })
    await expect(execution.done).rejects.toMatchObject({ code: 'stream-closed' })
    expect(run).not.toHaveBeenCalled()
    expect(await types(hub, 'too-late')).toEqual([])
  })

  it('lets hub.close() end a run in flight as cancelled, printing nothing', async () => {
    const hub = makeHub()
    const consoleError = vi.spyOn(console, 'error')
    const running = deferred()
    const execution = startExecution(hub, {
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
