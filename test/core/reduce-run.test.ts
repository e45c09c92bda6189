import { describe, expect, it } from 'vitest'
import {
  defaultCatalog,
  type Envelope,
  initialRunState,
  type RunState,
  reduceRun,
  runStateSchema,
  validateEventData,
} from '../../src/core/index.js'
import { at, deepFreeze, envelope, fold } from './support/events.js'

deepFreeze(initialRunState)

describe('reduceRun', () => {
  describe('tasks', () => {
    it('keeps tasks in creation order with the fields each event carried', () => {
      const state = fold([
        envelope('1', 'task.created', {
          taskId: 'b',
          title: 'Second letter',
          meta: { selectedAgents: ['qa'] },
        }),
        envelope('2', 'task.created', {
          taskId: 'a',
          title: 'First letter',
          description: 'd',
          status: 'in_progress',
        }),
      ])
      expect(state.tasks.map((t) => t.id)).toEqual(['b', 'a'])
      expect(state.tasks[0]).toEqual({
        id: 'b',
        title: 'Second letter',
        description: null,
        status: 'pending',
        note: null,
        percent: null,
        error: null,
        durationMs: null,
        meta: { selectedAgents: ['qa'] },
        createdAt: at(1),
        updatedAt: at(1),
      })
      expect(state.tasks[1]?.status).toBe('in_progress')
    })

    it('merges a task update into the task in place, keeping fields it does not carry', () => {
      const state = fold([
        envelope('1', 'task.created', { taskId: 't1', title: 'Old', note: 'n', meta: { a: 1 } }),
        envelope('2', 'task.created', { taskId: 't2' }),
        envelope('3', 'task.updated', { taskId: 't1', title: 'New', meta: { b: 2 } }),
      ])
      expect(state.tasks.map((t) => t.id)).toEqual(['t1', 't2'])
      expect(state.tasks[0]).toMatchObject({
        title: 'New',
        note: 'n',
        meta: { a: 1, b: 2 },
        createdAt: at(1),
        updatedAt: at(3),
      })
    })

    it('changes status and note on task.status (card 2 task_update)', () => {
      const state = fold([
        envelope('1', 'task.created', { taskId: 't1', title: 'Build' }),
        envelope('2', 'task.status', { taskId: 't1', status: 'in_progress', note: 'Working on it...' }),
      ])
      expect(state.tasks[0]).toMatchObject({
        title: 'Build',
        status: 'in_progress',
        note: 'Working on it...',
      })
    })

    it('moves a pending task to in_progress on progress, but never reopens a finished one', () => {
      const progressed = fold([
        envelope('1', 'task.created', { taskId: 't1' }),
        envelope('2', 'task.progress', { taskId: 't1', note: 'half', percent: 50 }),
      ])
      expect(progressed.tasks[0]).toMatchObject({ status: 'in_progress', note: 'half', percent: 50 })
      const late = fold(
        [
          envelope('3', 'task.completed', { taskId: 't1' }),
          envelope('4', 'task.progress', { taskId: 't1', percent: 70 }),
        ],
        progressed,
      )
      expect(late.tasks[0]).toMatchObject({ status: 'completed', percent: 70 })
    })

    it('completes a task at 100 percent with its closing note and reported duration (card 3 totalExecutionTime)', () => {
      const state = fold([
        envelope('1', 'task.created', { taskId: 't1' }),
        envelope('2', 'task.completed', { taskId: 't1', note: 'Done!', durationMs: 45000, outputs: 3 }),
      ])
      expect(state.tasks[0]).toMatchObject({
        status: 'completed',
        percent: 100,
        note: 'Done!',
        durationMs: 45000,
      })
    })

    it('measures a completed task from its creation when no duration is reported', () => {
      const state = fold([
        envelope('1', 'task.created', { taskId: 't1' }),
        envelope('4', 'task.completed', { taskId: 't1' }),
      ])
      expect(state.tasks[0]?.durationMs).toBe(Date.parse(at(4)) - Date.parse(at(1)))
    })

    it('fails a task with its error and records it as the last error', () => {
      const state = fold([
        envelope('1', 'task.created', { taskId: 't1' }),
        envelope('2', 'task.failed', { taskId: 't1', error: { message: 'boom', code: 'E1' } }),
      ])
      expect(state.tasks[0]).toMatchObject({ status: 'failed', error: { message: 'boom', code: 'E1' } })
      expect(state.error).toEqual({ message: 'boom', code: 'E1' })
    })

    it('records a stream-wide task failure (card 3 task_error) without inventing a task', () => {
      const state = fold([envelope('1', 'task.failed', { error: { message: 'Failed to execute task' } })])
      expect(state.tasks).toEqual([])
      expect(state.error).toEqual({ message: 'Failed to execute task' })
    })

    it('removes a deleted task; a re-created one goes to the end', () => {
      const state = fold([
        envelope('1', 'task.created', { taskId: 'a' }),
        envelope('2', 'task.created', { taskId: 'b' }),
        envelope('3', 'task.deleted', { taskId: 'a' }),
        envelope('4', 'task.deleted', { taskId: 'never-existed' }),
        envelope('5', 'task.created', { taskId: 'a' }),
      ])
      expect(state.tasks.map((t) => t.id)).toEqual(['b', 'a'])
    })

    it.each([
      ['task.updated', { taskId: 'u', title: 'T' }],
      ['task.status', { taskId: 'u', status: 'completed' }],
      ['task.progress', { taskId: 'u', percent: 10 }],
      ['task.completed', { taskId: 'u' }],
      ['task.failed', { taskId: 'u', error: { message: 'x' } }],
    ] as const)(
      'creates an unknown task on %s (upsert), since a late joiner may miss task.created',
      (type, data) => {
        const state = fold([envelope('1', 'task.created', { taskId: 'first' }), envelope('2', type, data)])
        expect(state.tasks.map((t) => t.id)).toEqual(['first', 'u'])
        expect(state.tasks[1]?.createdAt).toBe(at(2))
      },
    )
  })

  describe('agents', () => {
    it('keeps agents by role in start order and marks an idle run running', () => {
      const state = fold([
        envelope('1', 'agent.started', {
          role: 'tech-lead',
          name: 'Technical Lead',
          description: 'Designing',
          taskId: 't1',
        }),
        envelope('2', 'agent.started', { role: 'frontend' }),
      ])
      expect(state.agentOrder).toEqual(['tech-lead', 'frontend'])
      expect(state.agents['tech-lead']).toEqual({
        role: 'tech-lead',
        name: 'Technical Lead',
        description: 'Designing',
        status: 'running',
        message: null,
        startedAt: at(1),
        finishedAt: null,
        durationMs: null,
        hasArtifacts: false,
        error: null,
      })
      expect(state.status).toBe('running')
      expect(state.startedAt).toBe(at(1))
    })

    it('keeps the reported duration of a completed agent (card 3 executionTime)', () => {
      const state = fold([
        envelope('1', 'agent.started', { role: 'tech-lead' }),
        envelope('2', 'agent.progress', { role: 'tech-lead', message: 'Thinking...' }),
        envelope('5', 'agent.completed', { role: 'tech-lead', durationMs: 12500, hasArtifacts: true }),
      ])
      expect(state.agents['tech-lead']).toMatchObject({
        status: 'completed',
        message: 'Thinking...',
        startedAt: at(1),
        finishedAt: at(5),
        durationMs: 12500,
        hasArtifacts: true,
      })
    })

    it('measures the duration from the event timestamps when none is reported', () => {
      const state = fold([
        envelope('1', 'agent.started', { role: 'qa' }),
        envelope('2', 'agent.completed', { role: 'qa' }, at(8.25)),
      ])
      expect(state.agents.qa?.durationMs).toBe(7250)
    })

    it('fails an agent with its error, its duration and the run-level last error', () => {
      const state = fold([
        envelope('1', 'agent.started', { role: 'qa' }),
        envelope('4', 'agent.failed', { role: 'qa', error: { message: 'API rate limit exceeded' } }),
      ])
      expect(state.agents.qa).toMatchObject({
        status: 'failed',
        finishedAt: at(4),
        durationMs: 3000,
        error: { message: 'API rate limit exceeded' },
      })
      expect(state.error).toEqual({ message: 'API rate limit exceeded' })
    })

    it('accepts a completion for an agent it never saw start, with no measured duration', () => {
      const state = fold([envelope('1', 'agent.completed', { role: 'late' })])
      expect(state.agentOrder).toEqual(['late'])
      expect(state.agents.late).toMatchObject({ status: 'completed', startedAt: null, durationMs: null })
    })

    it('clears the finish, duration and error of an agent that starts again', () => {
      const state = fold([
        envelope('1', 'agent.started', { role: 'qa' }),
        envelope('2', 'agent.failed', { role: 'qa', error: { message: 'x' } }),
        envelope('3', 'agent.started', { role: 'qa' }),
      ])
      expect(state.agents.qa).toMatchObject({
        status: 'running',
        startedAt: at(3),
        finishedAt: null,
        durationMs: null,
        error: null,
      })
      expect(state.agentOrder).toEqual(['qa'])
    })
  })

  describe('nodes', () => {
    it('announces nodes as pending in order on run.started, with the run identity as strings', () => {
      const state = fold([
        envelope('1', 'run.started', {
          executionId: 123,
          workflowId: 'wf-456',
          mode: 'manual',
          nodes: [{ nodeId: 'trigger', name: 'Trigger' }, { nodeId: 'ai' }],
        }),
      ])
      expect(state).toMatchObject({
        status: 'running',
        executionId: '123',
        workflowId: 'wf-456',
        mode: 'manual',
        startedAt: at(1),
      })
      expect(state.nodeOrder).toEqual(['trigger', 'ai'])
      expect(state.nodes.trigger).toEqual({
        id: 'trigger',
        name: 'Trigger',
        status: 'pending',
        message: null,
        percent: null,
        output: undefined,
        error: null,
        startedAt: null,
        finishedAt: null,
        durationMs: null,
      })
    })

    it('moves a node pending → running → completed with its output and measured duration', () => {
      const announced = fold([envelope('1', 'run.started', { nodes: [{ nodeId: 'ai' }] })])
      const running = fold(
        [envelope('2', 'node.started', { nodeId: 'ai', name: 'Gemini AI', message: 'calling' })],
        announced,
      )
      expect(running.nodes.ai).toMatchObject({
        status: 'running',
        name: 'Gemini AI',
        startedAt: at(2),
        message: 'calling',
      })
      const done = fold(
        [
          envelope('3', 'node.progress', { nodeId: 'ai', percent: 40, message: 'streaming' }),
          envelope('6', 'node.completed', { nodeId: 'ai', output: { response: 'Hello world' } }),
        ],
        running,
      )
      expect(done.nodes.ai).toMatchObject({
        status: 'completed',
        output: { response: 'Hello world' },
        percent: 100,
        message: 'streaming',
        finishedAt: at(6),
        durationMs: 4000,
      })
    })

    it('moves a node pending → running → failed with its error, message and partial output', () => {
      const state = fold([
        envelope('1', 'run.started', { nodes: [{ nodeId: 'ai' }] }),
        envelope('2', 'node.started', { nodeId: 'ai' }),
        envelope('3', 'node.failed', {
          nodeId: 'ai',
          message: 'Research failed',
          output: { partial: 2 },
          error: { message: 'API key not configured' },
          durationMs: 900,
        }),
      ])
      expect(state.nodes.ai).toMatchObject({
        status: 'failed',
        message: 'Research failed',
        output: { partial: 2 },
        error: { message: 'API key not configured' },
        durationMs: 900,
      })
      expect(state.error).toEqual({ message: 'API key not configured' })
    })

    it('starts a node on its first progress report when node.started was missed', () => {
      const state = fold([
        envelope('1', 'run.started', { nodes: [{ nodeId: 'n' }] }),
        envelope('2', 'node.progress', { nodeId: 'n', data: { x: 1 } }),
      ])
      expect(state.nodes.n?.status).toBe('running')
    })

    it('appends a node it was never told about, and keeps a running node running when announced again', () => {
      const state = fold([
        envelope('1', 'node.started', { nodeId: 'x' }),
        envelope('2', 'run.started', { nodes: [{ nodeId: 'x', name: 'X' }, { nodeId: 'y' }] }),
      ])
      expect(state.nodeOrder).toEqual(['x', 'y'])
      expect(state.nodes.x).toMatchObject({ status: 'running', name: 'X' })
    })
  })

  describe('run status', () => {
    it('starts idle and ends completed with the output and the reported or measured duration', () => {
      expect(initialRunState.status).toBe('idle')
      const measured = fold([
        envelope('1', 'run.started', {}),
        envelope('4', 'run.completed', { output: { taskId: 'abc' } }),
      ])
      expect(measured).toMatchObject({
        status: 'completed',
        finishedAt: at(4),
        durationMs: 3000,
        output: { taskId: 'abc' },
      })
      const reported = fold([
        envelope('1', 'run.started', {}),
        envelope('4', 'run.completed', { durationMs: 45000 }),
      ])
      expect(reported.durationMs).toBe(45000)
    })

    it('ends failed with the run error as the last error', () => {
      const state = fold([
        envelope('1', 'run.started', {}),
        envelope('2', 'run.failed', { error: { message: 'Failed to execute task' } }),
      ])
      expect(state).toMatchObject({
        status: 'failed',
        finishedAt: at(2),
        error: { message: 'Failed to execute task' },
      })
    })

    it('ends cancelled and keeps the last error reported before', () => {
      const state = fold([
        envelope('1', 'run.started', {}),
        envelope('2', 'node.failed', { nodeId: 'n', error: { message: 'node broke' } }),
        envelope('3', 'run.cancelled', { reason: 'user' }),
      ])
      expect(state).toMatchObject({ status: 'cancelled', error: { message: 'node broke' } })
    })

    it('keeps the last error of an agent that failed in a run that still completed', () => {
      const state = fold([
        envelope('1', 'agent.started', { role: 'qa' }),
        envelope('2', 'agent.failed', { role: 'qa', error: { message: 'rate limit' } }),
        envelope('3', 'run.completed', {}),
      ])
      expect(state).toMatchObject({ status: 'completed', error: { message: 'rate limit' } })
    })

    it('clears the finish and the last error when a new run starts on the stream', () => {
      const state = fold([
        envelope('1', 'run.started', {}),
        envelope('2', 'run.failed', { error: { message: 'x' } }),
        envelope('3', 'run.started', { mode: 'retry' }),
      ])
      expect(state).toMatchObject({
        status: 'running',
        startedAt: at(3),
        finishedAt: null,
        durationMs: null,
        error: null,
        mode: 'retry',
      })
    })
  })

  describe('ids', () => {
    it('records the stream and the id of the last event folded in', () => {
      const state = fold([
        envelope('1', 'task.created', { taskId: 'a' }, at(1), 'job-7'),
        envelope('2', 'task.created', { taskId: 'b' }, at(2), 'job-7'),
      ])
      expect(state.lastEventId).toBe('2')
      expect(state.stream).toBe('job-7')
    })

    it('returns the same state for an event whose id it has already passed', () => {
      const state = fold([
        envelope('1', 'task.created', { taskId: 'a' }),
        envelope('2', 'task.created', { taskId: 'b' }),
      ])
      expect(reduceRun(state, envelope('2', 'task.deleted', { taskId: 'b' }))).toBe(state)
      expect(reduceRun(state, envelope('1', 'task.deleted', { taskId: 'a' }))).toBe(state)
      expect(
        reduceRun(state, envelope('10', 'task.deleted', { taskId: 'a' })).tasks.map((t) => t.id),
      ).toEqual(['b'])
    })

    it('orders Redis stream ids by time then sequence', () => {
      const state = fold([envelope('1700000000000-1', 'task.created', { taskId: 'a' }, at(1))])
      expect(reduceRun(state, envelope('1700000000000-0', 'task.created', { taskId: 'old' }, at(1)))).toBe(
        state,
      )
      expect(
        reduceRun(state, envelope('1700000000000-2', 'task.created', { taskId: 'b' }, at(2))).lastEventId,
      ).toBe('1700000000000-2')
    })

    it('only advances lastEventId for a type it does not know', () => {
      const before = fold([envelope('1', 'task.created', { taskId: 'a' })])
      const unknown: Envelope = {
        type: 'deploy.promoted',
        stream: 'run-1',
        id: '2',
        ts: at(2),
        data: { env: 'prod' },
      }
      const after = reduceRun(before, unknown)
      expect(after).toEqual({ ...before, lastEventId: '2' })
    })
  })

  describe('stream.snapshot and stream.reset', () => {
    const snapshotState: RunState = fold([
      envelope('1', 'run.started', { executionId: 'e1' }),
      envelope('2', 'task.created', { taskId: 'server-task' }),
    ])

    it('replaces the state with a snapshot and merges its meta (card 2 connected with job status)', () => {
      const local = fold([envelope('1', 'task.created', { taskId: 'stale' })])
      const state = reduceRun(
        local,
        envelope('2', 'stream.snapshot', { state: snapshotState, meta: { jobStatus: 'in_progress' } }),
      )
      expect(state.tasks.map((t) => t.id)).toEqual(['server-task'])
      expect(state.meta).toEqual({ jobStatus: 'in_progress' })
      expect(state.lastEventId).toBe('2')
    })

    it('replaces the state on stream.reset and resumes from its id', () => {
      const local = fold([envelope('1', 'task.created', { taskId: 'stale' })])
      const reset = reduceRun(
        local,
        envelope('7', 'stream.reset', { state: snapshotState, reason: 'cursor-expired' }),
      )
      expect(reset).toEqual({ ...snapshotState, lastEventId: '7' })
      expect(fold([envelope('8', 'task.created', { taskId: 'next' })], reset).tasks.map((t) => t.id)).toEqual(
        ['server-task', 'next'],
      )
    })

    it('applies stream.reset even when its id is below the reader’s, as after a hub restart', () => {
      const ahead = fold([envelope('500', 'task.created', { taskId: 'from-old-hub' })])
      const reset = reduceRun(
        ahead,
        envelope('2', 'stream.reset', { state: snapshotState, reason: 'cursor-unknown' }),
      )
      expect(reset.tasks.map((t) => t.id)).toEqual(['server-task'])
      expect(reset.lastEventId).toBe('2')
      const next = reduceRun(reset, envelope('3', 'task.created', { taskId: 'live' }))
      expect(next.tasks.map((t) => t.id)).toEqual(['server-task', 'live'])
    })
  })

  describe('ids named like Object members', () => {
    // A variable, not `x.__proto__`: the key is read as data, which is the point.
    const proto = '__proto__'

    it('keeps a node whose id is constructor in nodeOrder, with its id', () => {
      const state = fold([
        envelope('1', 'run.started', { nodes: [{ nodeId: 'constructor', name: 'Build' }] }),
        envelope('2', 'node.started', { nodeId: 'constructor' }),
      ])
      expect(state.nodeOrder).toEqual(['constructor'])
      expect(state.nodes.constructor).toMatchObject({ id: 'constructor', name: 'Build', status: 'running' })
    })

    it('keeps a node whose id is __proto__ as an own entry, with its id', () => {
      const state = fold([envelope('1', 'node.started', { nodeId: '__proto__', message: 'hi' })])
      expect(state.nodeOrder).toEqual(['__proto__'])
      expect(Object.keys(state.nodes)).toEqual(['__proto__'])
      expect(Object.hasOwn(state.nodes, '__proto__')).toBe(true)
      expect(state.nodes[proto]).toMatchObject({ id: '__proto__', status: 'running', message: 'hi' })
    })

    it('keeps an agent whose role is toString in agentOrder, with its role', () => {
      const state = fold([
        envelope('1', 'agent.started', { role: 'toString', name: 'Printer' }),
        envelope('2', 'agent.completed', { role: 'toString', hasArtifacts: true }),
      ])
      expect(state.agentOrder).toEqual(['toString'])
      expect(state.agents.toString).toMatchObject({ role: 'toString', name: 'Printer', status: 'completed' })
    })

    it('reads an id named like an Object member as absent until an event adds it', () => {
      const state = fold([envelope('1', 'task.created', { taskId: 'hasOwnProperty' })])
      for (const key of ['constructor', 'toString', '__proto__', 'valueOf']) {
        expect(state.agents[key]).toBeUndefined()
        expect(state.nodes[key]).toBeUndefined()
        expect(state.meta[key]).toBeUndefined()
        expect(state.tasks[0]?.meta[key]).toBeUndefined()
      }
      expect(state.tasks.map((t) => t.id)).toEqual(['hasOwnProperty'])
    })

    it('merges task meta keys named __proto__ or constructor as own keys', () => {
      const meta = JSON.parse('{"__proto__":{"x":1},"constructor":"c"}') as Record<string, unknown>
      const state = fold([
        envelope('1', 'task.created', { taskId: 't', meta }),
        envelope('2', 'task.updated', { taskId: 't', meta: { toString: 2 } }),
      ])
      expect(Object.keys(state.tasks[0]?.meta ?? {})).toEqual(['__proto__', 'constructor', 'toString'])
      expect(state.tasks[0]?.meta).toEqual(JSON.parse('{"__proto__":{"x":1},"constructor":"c","toString":2}'))
    })

    it('keeps such ids in a snapshot sent over the wire and validated by the client', () => {
      const server = fold([
        envelope('1', 'run.started', { nodes: [{ nodeId: '__proto__' }, { nodeId: 'constructor' }] }),
        envelope('2', 'agent.started', { role: 'toString' }),
        envelope('3', 'agent.started', { role: '__proto__' }),
      ])
      const wire = JSON.parse(JSON.stringify({ ...server, meta: JSON.parse('{"__proto__":"m"}') })) as unknown
      const validated = validateEventData(defaultCatalog, 'stream.snapshot', { state: wire })
      if (!validated.ok) throw validated.error
      for (const state of [runStateSchema.parse(wire), validated.value.state]) {
        const client = reduceRun(initialRunState, envelope('4', 'stream.snapshot', { state }))
        expect(client.nodeOrder).toEqual(['__proto__', 'constructor'])
        expect(Object.keys(client.nodes)).toEqual(['__proto__', 'constructor'])
        expect(client.nodes[proto]?.id).toBe('__proto__')
        expect(client.agentOrder).toEqual(['toString', '__proto__'])
        expect(Object.keys(client.agents)).toEqual(['toString', '__proto__'])
        expect(client.agents[proto]?.role).toBe('__proto__')
        expect(Object.keys(client.meta)).toEqual(['__proto__'])
      }
    })

    it('names an invalid entry under a hostile key by its dotted path', () => {
      const wire = JSON.parse(JSON.stringify(initialRunState)) as Record<string, unknown>
      wire.nodes = JSON.parse('{"__proto__":{"id":"__proto__","status":"lost"}}')
      const result = validateEventData(defaultCatalog, 'stream.snapshot', { state: wire })
      expect(result.ok).toBe(false)
      if (result.ok) return
      expect(result.error.issues.map((issue) => issue.path)).toContain('data.state.nodes.__proto__.status')
    })
  })

  it('never mutates the state or the event it is given', () => {
    const state = deepFreeze(
      fold([
        envelope('1', 'run.started', { nodes: [{ nodeId: 'n' }] }),
        envelope('2', 'task.created', { taskId: 't' }),
      ]),
    )
    const copy = structuredClone(state)
    const event = deepFreeze(envelope('3', 'node.completed', { nodeId: 'n', output: { rows: [1, 2] } }))
    const next = reduceRun(state, event)
    expect(state).toEqual(copy)
    expect(next.nodes.n?.status).toBe('completed')
  })
})
