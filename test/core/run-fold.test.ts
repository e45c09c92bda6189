import { describe, expect, it } from 'vitest'
import { createRunFold, initialRunState, type RunState, reduceRun } from '../../src/core/index.js'
import { referenceReduceRun } from './reduce-run.reference.js'
import { at, deepFreeze, envelope, fold } from './support/events.js'

describe('createRunFold', () => {
  it('starts from the initial state itself and keeps its records without prototype', () => {
    const runFold = createRunFold()
    expect(runFold.state).toBe(initialRunState)
    expect(Object.isFrozen(initialRunState)).toBe(true)
    for (const record of [initialRunState.agents, initialRunState.nodes, initialRunState.meta]) {
      expect(Object.getPrototypeOf(record)).toBeNull()
    }
  })

  it('returns the same state object until an event changes it, then a new one', () => {
    const runFold = createRunFold()
    runFold.apply(envelope('1', 'task.created', { taskId: 'a' }))
    const first = runFold.state
    expect(runFold.state).toBe(first)
    runFold.apply(envelope('1', 'task.deleted', { taskId: 'a' }))
    expect(runFold.state).toBe(first)
    runFold.apply(envelope('2', 'task.progress', { taskId: 'a', percent: 50 }))
    expect(runFold.state).not.toBe(first)
    expect(runFold.state.tasks[0]).toMatchObject({ id: 'a', status: 'in_progress', percent: 50 })
  })

  it('tells its last event id as its state would, ignored events included', () => {
    const runFold = createRunFold()
    expect(runFold.lastEventId).toBeNull()
    runFold.apply(envelope('3', 'task.created', { taskId: 'a' }))
    expect(runFold.lastEventId).toBe('3')
    // Not after the last id: ignored, as the state shows.
    runFold.apply(envelope('2', 'task.deleted', { taskId: 'a' }))
    expect(runFold.lastEventId).toBe('3')
    runFold.apply(envelope('4', 'node.started', { nodeId: 'n' }))
    expect(runFold.lastEventId).toBe('4')
    expect(runFold.state.lastEventId).toBe(runFold.lastEventId)
    expect(runFold.state.tasks.map((task) => task.id)).toEqual(['a'])
  })

  it('leaves a state it returned untouched by later events', () => {
    const runFold = createRunFold()
    runFold.apply(envelope('1', 'run.started', { nodes: [{ nodeId: 'n' }] }))
    runFold.apply(envelope('2', 'task.created', { taskId: 'a' }))
    runFold.apply(envelope('3', 'agent.started', { role: 'qa' }))
    const earlier = deepFreeze(runFold.state)
    const copy = structuredClone(earlier)
    runFold.apply(envelope('4', 'node.completed', { nodeId: 'n', output: 1 }))
    runFold.apply(envelope('5', 'task.deleted', { taskId: 'a' }))
    runFold.apply(envelope('6', 'agent.started', { role: 'lead' }))
    runFold.apply(envelope('7', 'node.started', { nodeId: 'm' }))
    expect(earlier).toEqual(copy)
    expect(runFold.state).toMatchObject({ tasks: [], agentOrder: ['qa', 'lead'], nodeOrder: ['n', 'm'] })
    expect(runFold.state.nodes.n?.status).toBe('completed')
  })

  it('never modifies the state it starts from', () => {
    const start = deepFreeze(
      fold([envelope('1', 'task.created', { taskId: 'a' }), envelope('2', 'agent.started', { role: 'qa' })]),
    )
    const copy = structuredClone(start)
    const runFold = createRunFold(start)
    expect(runFold.state).toBe(start)
    runFold.apply(envelope('3', 'task.created', { taskId: 'b' }))
    runFold.apply(envelope('4', 'agent.completed', { role: 'qa' }))
    expect(start).toEqual(copy)
    expect(runFold.state.tasks.map((t) => t.id)).toEqual(['a', 'b'])
  })

  it('keeps tasks in creation order through updates, deletes and re-creations', () => {
    const runFold = createRunFold()
    for (const event of [
      envelope('1', 'task.created', { taskId: 'a' }),
      envelope('2', 'task.created', { taskId: 'b' }),
      envelope('3', 'task.created', { taskId: 'c' }),
      envelope('4', 'task.completed', { taskId: 'a' }),
      envelope('5', 'task.deleted', { taskId: 'b' }),
      envelope('6', 'task.created', { taskId: 'b' }),
    ]) {
      runFold.apply(event)
    }
    expect(runFold.state.tasks.map((t) => [t.id, t.status])).toEqual([
      ['a', 'completed'],
      ['c', 'pending'],
      ['b', 'pending'],
    ])
  })

  it('replaces its state on stream.reset even below its last id, and on a newer stream.snapshot', () => {
    const server = fold([envelope('1', 'task.created', { taskId: 'server' })])
    const runFold = createRunFold()
    runFold.apply(envelope('500', 'task.created', { taskId: 'old-hub' }))
    runFold.apply(envelope('2', 'stream.reset', { state: server, reason: 'cursor-unknown' }))
    expect(runFold.state).toEqual({ ...server, lastEventId: '2' })
    runFold.apply(envelope('3', 'stream.snapshot', { state: server, meta: { job: 'queued' } }))
    expect(runFold.state).toEqual({ ...server, lastEventId: '3', meta: { job: 'queued' } })
    runFold.apply(envelope('3', 'stream.snapshot', { state: initialRunState }))
    expect(runFold.state.tasks.map((t) => t.id)).toEqual(['server'])
  })

  it('takes a state parsed from JSON and gives its records no prototype, keeping own __proto__ keys', () => {
    const parsed = JSON.parse(
      JSON.stringify({
        ...initialRunState,
        tasks: [{ ...fold([envelope('1', 'task.created', { taskId: 't' })]).tasks[0], meta: { a: 1 } }],
        meta: { job: 'x' },
      }).replace('"job"', '"__proto__"'),
    ) as RunState
    const runFold = createRunFold(parsed)
    const state = runFold.state
    expect(state).not.toBe(parsed)
    expect(state).toEqual(parsed)
    expect(Object.keys(state.meta)).toEqual(['__proto__'])
    for (const record of [state.agents, state.nodes, state.meta, state.tasks[0]?.meta]) {
      expect(Object.getPrototypeOf(record)).toBeNull()
    }
  })

  it('treats a task id repeated in a given state as an array would: updates the first, deletes every one', () => {
    const [a, b] = fold([
      envelope('1', 'task.created', { taskId: 'a' }),
      envelope('2', 'task.created', { taskId: 'b' }),
    ]).tasks as [RunState['tasks'][number], RunState['tasks'][number]]
    const start: RunState = { ...initialRunState, tasks: [a, b, { ...a, title: 'again' }], lastEventId: '2' }
    const events = [
      envelope('3', 'task.completed', { taskId: 'a' }),
      envelope('4', 'task.created', { taskId: 'c' }),
      envelope('5', 'task.deleted', { taskId: 'a' }),
      envelope('6', 'task.created', { taskId: 'a' }),
    ]
    const runFold = createRunFold(start)
    const expected = [start]
    for (const event of events) {
      runFold.apply(event)
      expected.push(referenceReduceRun(expected.at(-1) as RunState, event))
      expect(runFold.state).toEqual(expected.at(-1))
    }
    expect(expected[2]?.tasks.map((t) => [t.id, t.status, t.title])).toEqual([
      ['a', 'completed', null],
      ['b', 'pending', null],
      ['a', 'pending', 'again'],
      ['c', 'pending', null],
    ])
    expect(runFold.state.tasks.map((t) => t.id)).toEqual(['b', 'c', 'a'])
  })

  it('applies an unknown type by advancing lastEventId only', () => {
    const runFold = createRunFold()
    runFold.apply(envelope('1', 'task.created', { taskId: 'a' }))
    const before = runFold.state
    runFold.apply({ type: 'deploy.promoted', stream: 'run-1', id: '2', ts: at(2), data: {} })
    expect(runFold.state).toEqual({ ...before, lastEventId: '2' })
    expect(runFold.state).toEqual(
      reduceRun(before, { type: 'x', stream: 'run-1', id: '2', ts: at(2), data: {} }),
    )
  })
})
