import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  defaultCatalog,
  defineCatalog,
  formatEvent,
  isTerminalEventType,
  TaskwireError,
  terminalEventTypes,
  validateEventData,
} from '../../src/core/index.js'

const DEFAULT_TYPES = [
  'stream.snapshot',
  'stream.reset',
  'task.created',
  'task.updated',
  'task.deleted',
  'task.status',
  'task.progress',
  'task.completed',
  'task.failed',
  'agent.started',
  'agent.progress',
  'agent.completed',
  'agent.failed',
  'run.started',
  'node.started',
  'node.progress',
  'node.completed',
  'node.failed',
  'run.completed',
  'run.failed',
  'run.cancelled',
]

describe('defineCatalog', () => {
  it('knows exactly the types it was given, and no Object.prototype key', () => {
    const catalog = defineCatalog({ 'a.b': z.object({}) })
    expect(catalog.has('a.b')).toBe(true)
    expect(catalog.has('a.c')).toBe(false)
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      expect(catalog.has(key)).toBe(false)
  })

  it('returns a frozen catalog that later changes to the input object do not reach', () => {
    const events: Record<string, z.ZodType> = { 'a.b': z.object({}) }
    const catalog = defineCatalog(events)
    events['c.d'] = z.object({})
    expect(catalog.has('c.d')).toBe(false)
    expect(Object.isFrozen(catalog)).toBe(true)
    expect(Object.isFrozen(catalog.events)).toBe(true)
  })

  it.each(['', 'a\nb', 'a\rb', 'a\0b'])(
    'rejects the type %j, which cannot be an SSE event name (invalid-option)',
    (type) => {
      let error: unknown
      try {
        defineCatalog({ [type]: z.object({}) })
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(TaskwireError)
      expect((error as TaskwireError).code).toBe('invalid-option')
    },
  )

  it('extends the default catalog by spreading its events', () => {
    const catalog = defineCatalog({
      ...defaultCatalog.events,
      'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }),
    })
    for (const type of DEFAULT_TYPES) expect(catalog.has(type)).toBe(true)
    expect(validateEventData(catalog, 'deploy.promoted', { env: 'prod' }).ok).toBe(true)
    expect(validateEventData(catalog, 'deploy.promoted', { env: 'dev' }).ok).toBe(false)
  })

  it('replaces a default event schema when the same type is given again', () => {
    const catalog = defineCatalog({
      ...defaultCatalog.events,
      'task.deleted': z.object({ taskId: z.number() }),
    })
    expect(validateEventData(catalog, 'task.deleted', { taskId: 1 }).ok).toBe(true)
    expect(validateEventData(catalog, 'task.deleted', { taskId: 't1' }).ok).toBe(false)
  })
})

describe('defaultCatalog', () => {
  it('holds the stream, task, agent, run and node events of the design', () => {
    expect(Object.keys(defaultCatalog.events).sort()).toEqual([...DEFAULT_TYPES].sort())
  })

  it('holds only types that can be written as SSE event names', () => {
    for (const type of DEFAULT_TYPES) expect(() => formatEvent({ event: type, data: '{}' })).not.toThrow()
  })

  it.each([
    ['task.status', { taskId: 't', status: 'in_progress', title: 'T', note: 'n' }],
    ['agent.completed', { role: 'tech-lead', taskId: 't', durationMs: 12500, hasArtifacts: true }],
    ['agent.failed', { role: 'tech-lead', durationMs: 5000, error: { message: 'API rate limit exceeded' } }],
    [
      'run.started',
      { executionId: 123, workflowId: 'wf-456', mode: 'manual', nodes: [{ nodeId: 'n1', name: 'N' }] },
    ],
    [
      'node.failed',
      { nodeId: 'n', message: 'm', output: { result: 1 }, error: { message: 'API key not configured' } },
    ],
    ['task.completed', { taskId: 't', durationMs: 45000, outputs: 3 }],
    ['task.failed', { error: { message: 'Failed to execute task' } }],
    ['run.cancelled', {}],
  ] as const)('accepts a card-shaped %s payload', (type, data) => {
    expect(validateEventData(defaultCatalog, type, data)).toEqual({ ok: true, value: data })
  })

  it.each([
    ['task.status', { taskId: 't' }, 'data.status'],
    ['task.status', { taskId: '', status: 'pending' }, 'data.taskId'],
    ['task.progress', { taskId: 't', percent: 101 }, 'data.percent'],
    ['agent.completed', { role: 'r', durationMs: -1 }, 'data.durationMs'],
    ['task.completed', { taskId: 't', outputs: 1.5 }, 'data.outputs'],
    ['agent.failed', { role: 'r', error: 'boom' }, 'data.error'],
    ['stream.reset', { state: {}, reason: 'cursor-expired' }, 'data.state.stream'],
  ] as const)('rejects an invalid %s payload at %s', (type, data, path) => {
    const result = validateEventData(defaultCatalog, type, data)
    expect(result.ok).toBe(false)
    expect(!result.ok && result.error.issues.map((i) => i.path)).toContain(path)
  })
})

describe('terminal event types', () => {
  it('are run.completed, run.failed and run.cancelled, frozen', () => {
    expect([...terminalEventTypes].sort()).toEqual(['run.cancelled', 'run.completed', 'run.failed'])
    expect(Object.isFrozen(terminalEventTypes)).toBe(true)
  })

  it.each([
    ['run.completed', true],
    ['run.failed', true],
    ['run.cancelled', true],
    ['task.completed', false],
    ['agent.failed', false],
    ['node.failed', false],
    ['run.started', false],
  ])('isTerminalEventType(%s) is %s', (type, terminal) => {
    expect(isTerminalEventType(type)).toBe(terminal)
  })

  it('are declared on the catalog: the default run types it holds, or its own', () => {
    expect([...defaultCatalog.terminal].sort()).toEqual(['run.cancelled', 'run.completed', 'run.failed'])
    const partial = defineCatalog({ 'run.completed': z.object({}), 'task.created': z.object({}) })
    expect(partial.terminal).toEqual(['run.completed'])
    const deploys = defineCatalog(
      { 'deploy.step': z.object({}), 'deploy.finished': z.object({}) },
      { terminal: ['deploy.finished'] },
    )
    expect(deploys.terminal).toEqual(['deploy.finished'])
    expect(Object.isFrozen(deploys.terminal)).toBe(true)
    expect(defineCatalog({ a: z.object({}) }, { terminal: [] }).terminal).toEqual([])
  })

  it('refuses a terminal type the catalog does not hold', () => {
    const make = () =>
      defineCatalog({ 'deploy.step': z.object({}) }, { terminal: ['deploy.done' as 'deploy.step'] })
    expect(make).toThrow(TaskwireError)
    expect(make).toThrow(/deploy\.done/)
  })
})
