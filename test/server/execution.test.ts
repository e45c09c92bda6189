import { afterEach, describe, expect, it, vi } from 'vitest'
import { TaskwireError } from '../../src/core/index.js'
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
    const resumed = await hub.subscribe('detached', { lastEventId: '2' })
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
    expect(await cancelExecution(hub, 'cancel-me', 'user pressed stop')).toBe(true)
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
})
