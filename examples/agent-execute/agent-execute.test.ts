import { TaskwireHttpError } from 'taskwire'
import { connect, createRunStore, fetchTransport } from 'taskwire/client'
import { afterEach, describe, expect, it } from 'vitest'
import { redisAvailable, redisSkipReason, redisUrl } from '../../test/helpers/redis.js'
import { readSse, type SseReader } from '../../test/helpers/sse-reader.js'
import type { ExampleOptions } from '../shared/example-app.js'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createAgentExecuteApp } from './app.js'
import { TEAM } from './team.js'

const AUTH = { authorization: 'Bearer demo-token' }
const JSON_AUTH = { ...AUTH, 'content-type': 'application/json' }

interface Event {
  id: string
  type: string
  stream: string
  data: Record<string, unknown>
}

const served: ServedApps[] = []
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.close()))
})

async function serve(options: ExampleOptions = {}): Promise<string> {
  const s = await serveApps([await createAgentExecuteApp({ pace: 0, ...options })])
  served.push(s)
  return s.origin
}

function execute(
  origin: string,
  body: unknown,
  headers: Record<string, string> = JSON_AUTH,
): Promise<Response> {
  return fetch(`${origin}/api/agents/execute/stream`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

const eventsOf = (reader: SseReader): Event[] =>
  reader.log.events.map((message) => {
    const envelope = JSON.parse(message.data) as Omit<Event, 'id'>
    expect(message.event).toBe(envelope.type)
    return { ...envelope, id: message.id ?? '' }
  })

async function readToEnd(response: Response): Promise<Event[]> {
  const reader = readSse(response)
  await reader.toEnd(10_000)
  return eventsOf(reader)
}

/** The event types, with the agent's role after agent events: `agent.started:qa`. */
const outline = (events: readonly Event[]) =>
  events.map((event) =>
    event.type.startsWith('agent.') ? `${event.type}:${String(event.data.role)}` : event.type,
  )

const stepsOf = (role: string) => TEAM.find((agent) => agent.role === role)?.steps ?? []

/** What one agent sends when it completes: started, one progress per step, completed. */
const agentOutline = (role: string, end = 'completed') => [
  `agent.started:${role}`,
  ...stepsOf(role).map(() => `agent.progress:${role}`),
  `agent.${end}:${role}`,
]

describe('refusals, before any byte of a stream', () => {
  const task = {
    taskDescription: 'Add a dark mode toggle',
    selectedAgents: ['tech-lead'],
    executionMode: 'sequential',
  }

  it('answers 401 without a token, 403 with a wrong one, as JSON', async () => {
    const origin = await serve()
    const missing = await execute(origin, task, { 'content-type': 'application/json' })
    expect(missing.status).toBe(401)
    expect(missing.headers.get('www-authenticate')).toBe('Bearer')
    expect(missing.headers.get('content-type')).toContain('application/json')
    expect(await missing.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } })

    const wrong = await execute(origin, task, {
      authorization: 'Bearer nope',
      'content-type': 'application/json',
    })
    expect(wrong.status).toBe(403)
    expect(wrong.headers.get('content-type')).toContain('application/json')
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('forbidden')

    // The other routes ask the same policy.
    expect((await fetch(`${origin}/api/agents`)).status).toBe(401)
    expect((await fetch(`${origin}/api/agents/executions/x/events`)).status).toBe(401)
    expect((await fetch(`${origin}/api/agents/executions/x`, { method: 'DELETE' })).status).toBe(401)
  })

  it('answers 400 with the invalid fields, unknown roles included', async () => {
    const origin = await serve()
    const bad = await execute(origin, {
      taskDescription: '  ',
      selectedAgents: [],
      executionMode: 'eventually',
    })
    expect(bad.status).toBe(400)
    const body = (await bad.json()) as { error: { code: string; issues: { path: string }[] } }
    expect(body.error.code).toBe('invalid-body')
    expect(body.error.issues.map((issue) => issue.path).sort()).toEqual([
      'executionMode',
      'selectedAgents',
      'taskDescription',
    ])

    const unknown = await execute(origin, { ...task, selectedAgents: ['tech-lead', 'designer'] })
    expect(unknown.status).toBe(400)
    expect(await unknown.json()).toMatchObject({
      error: { issues: [{ path: 'selectedAgents.1', message: expect.stringContaining('"designer"') }] },
    })

    const twice = await execute(origin, { ...task, selectedAgents: ['qa', 'qa'] })
    expect(twice.status).toBe(400)

    const notJson = await execute(origin, '{"taskDescription":')
    expect(notJson.status).toBe(400)
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid-json')

    const longKey = await execute(origin, task, { ...JSON_AUTH, 'Idempotency-Key': 'k'.repeat(300) })
    expect(longKey.status).toBe(400)
  })

  it('lists the seeded team, and leaves other routes to other apps', async () => {
    const origin = await serve()
    const team = await fetch(`${origin}/api/agents`, { headers: AUTH })
    expect(team.status).toBe(200)
    const { agents } = (await team.json()) as { agents: { role: string; name: string }[] }
    expect(agents.map((agent) => agent.role)).toEqual(['tech-lead', 'frontend', 'backend', 'qa', 'flaky'])
    expect(agents[0]).toMatchObject({ name: 'Technical Lead', description: expect.any(String) })

    expect((await fetch(`${origin}/api/agents/execute/stream`, { headers: AUTH })).status).toBe(405)
    expect((await fetch(`${origin}/api/jobs/1/events`)).status).toBe(404) // the fallback, not this app
    const unknown = await fetch(`${origin}/api/agents/executions/no-such-run/events`, { headers: AUTH })
    expect(unknown.status).toBe(404)
  })
})

describe('a run streamed in the POST response', () => {
  it('runs a sequential team to the end, one agent after another, with durations', async () => {
    const pace = 0.02
    const origin = await serve({ pace })
    const selectedAgents = ['tech-lead', 'frontend', 'qa']
    const response = await execute(origin, {
      taskDescription: 'Add a dark mode toggle to the settings page',
      selectedAgents,
      executionMode: 'sequential',
      provider: 'anthropic',
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const executionId = response.headers.get('x-execution-id')
    expect(executionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(response.headers.get('idempotent-replayed')).toBeNull()

    const events = await readToEnd(response)
    expect(outline(events)).toEqual([
      'run.started',
      'task.created',
      ...agentOutline('tech-lead'),
      ...agentOutline('frontend'),
      ...agentOutline('qa'),
      'task.completed',
      'run.completed',
    ])
    expect(new Set(events.map((event) => event.stream))).toEqual(new Set([executionId]))
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length)

    const created = events.find((event) => event.type === 'task.created')
    const taskId = created?.data.taskId
    expect(created?.data).toMatchObject({
      title: 'Add a dark mode toggle to the settings page',
      meta: { selectedAgents, executionMode: 'sequential', provider: 'anthropic' },
    })
    expect(events.find((event) => event.type === 'agent.started')?.data).toEqual({
      taskId,
      role: 'tech-lead',
      name: 'Technical Lead',
      description: 'Designing the architecture',
    })
    expect(events.find((event) => event.type === 'agent.progress')?.data).toEqual({
      taskId,
      role: 'tech-lead',
      message: 'Reading the task…',
    })

    let agentsTotal = 0
    for (const role of selectedAgents) {
      const done = events.find((event) => event.type === 'agent.completed' && event.data.role === role)
      const paused = stepsOf(role).reduce((sum, [, ms]) => sum + ms * pace, 0)
      const durationMs = Number(done?.data.durationMs)
      // Each agent took at least its pauses (a timer may fire a millisecond early when rounded).
      expect(durationMs).toBeGreaterThanOrEqual(Math.floor(paused) - 1)
      expect(done?.data.hasArtifacts).toBe(role !== 'qa')
      agentsTotal += durationMs
    }
    const completed = events.find((event) => event.type === 'task.completed')
    expect(completed?.data).toMatchObject({ taskId, outputs: 3 })
    expect(Number(completed?.data.durationMs)).toBeGreaterThanOrEqual(agentsTotal - 2)
    expect(events.at(-1)?.data).toEqual({ output: { taskId, outputs: 3 } })
  })

  it('runs a parallel team with its agents overlapping', async () => {
    const origin = await serve({ pace: 0.02 })
    const response = await execute(origin, {
      taskDescription: 'Build the billing page',
      selectedAgents: ['tech-lead', 'frontend', 'backend'],
      executionMode: 'parallel',
    })
    const events = await readToEnd(response)
    const types = outline(events)
    const firstCompleted = types.findIndex((type) => type.startsWith('agent.completed'))
    const starts = types.flatMap((type, index) => (type.startsWith('agent.started') ? [index] : []))
    expect(starts).toHaveLength(3)
    // Every agent started before the first one finished.
    expect(Math.max(...starts)).toBeLessThan(firstCompleted)
    expect(types.at(-2)).toBe('task.completed')
    expect(types.at(-1)).toBe('run.completed')

    const durations = events
      .filter((event) => event.type === 'agent.completed')
      .map((e) => Number(e.data.durationMs))
    const total = Number(events.find((event) => event.type === 'task.completed')?.data.durationMs)
    expect(durations).toHaveLength(3)
    expect(total).toBeLessThan(durations.reduce((sum, ms) => sum + ms, 0))
  })

  it('reports a failing agent, lets the others finish, and fails the task and the run', async () => {
    const origin = await serve()
    const response = await execute(origin, {
      taskDescription: 'Summarise the incident',
      selectedAgents: ['tech-lead', 'flaky', 'qa'],
      executionMode: 'sequential',
    })
    const events = await readToEnd(response)
    expect(outline(events)).toEqual([
      'run.started',
      'task.created',
      ...agentOutline('tech-lead'),
      ...agentOutline('flaky', 'failed'),
      ...agentOutline('qa'),
      'task.failed',
      'run.failed',
    ])
    const failed = events.find((event) => event.type === 'agent.failed')
    expect(failed?.data).toMatchObject({
      role: 'flaky',
      error: { message: 'API rate limit exceeded', code: 'rate-limited' },
      durationMs: expect.any(Number),
    })
    const error = { message: '1 of 3 agents failed: flaky.', code: 'agent-failed' }
    expect(events.at(-2)?.data).toMatchObject({ error })
    expect(events.at(-1)?.data).toEqual({ error })
  })
})

describe('a run outlives its connection', () => {
  const task = {
    taskDescription: 'Write the release notes',
    selectedAgents: ['tech-lead', 'frontend'],
    executionMode: 'sequential',
  }

  it('goes on after the client leaves; a GET and a reconnecting POST replay it with no gap', async () => {
    const origin = await serve({ pace: 0.05 })
    const key = crypto.randomUUID()
    const response = await execute(origin, task, { ...JSON_AUTH, 'Idempotency-Key': key })
    const id = response.headers.get('x-execution-id') ?? ''
    const first = readSse(response)
    await first.until((log) => log.events.some((event) => event.event === 'agent.progress'))
    const seen = eventsOf(first)
    expect(seen.map((event) => event.type)).not.toContain('agent.completed')
    await first.cancel() // the tab closes mid-run

    // Another viewer, from the start: it follows the run to its end.
    const all = await readToEnd(
      await fetch(`${origin}/api/agents/executions/${id}/events`, { headers: AUTH }),
    )
    expect(all.slice(0, seen.length)).toEqual(seen)
    expect(outline(all)).toEqual([
      'run.started',
      'task.created',
      ...agentOutline('tech-lead'),
      ...agentOutline('frontend'),
      'task.completed',
      'run.completed',
    ])

    // The client that left comes back with its key and last id: the rest, and only the rest.
    const lastSeen = seen.at(-1)?.id ?? ''
    const again = await execute(origin, task, {
      ...JSON_AUTH,
      'Idempotency-Key': key,
      'Last-Event-ID': lastSeen,
    })
    expect(again.status).toBe(200)
    expect(again.headers.get('x-execution-id')).toBe(id)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await readToEnd(again)).toEqual(all.slice(seen.length))

    // A GET resuming from the terminal event has nothing left to send.
    const ended = await fetch(`${origin}/api/agents/executions/${id}/events`, {
      headers: { ...AUTH, 'Last-Event-ID': all.at(-1)?.id ?? '' },
    })
    expect(ended.status).toBe(204)
  })

  it('starts one run for two concurrent POSTs with the same Idempotency-Key', async () => {
    const origin = await serve({ pace: 0.01 })
    const headers = { ...JSON_AUTH, 'Idempotency-Key': crypto.randomUUID() }
    const [a, b] = await Promise.all([execute(origin, task, headers), execute(origin, task, headers)])
    const id = a.headers.get('x-execution-id')
    expect(b.headers.get('x-execution-id')).toBe(id)
    // One of the two started it; the other was attached.
    expect([a, b].filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(1)

    const [eventsA, eventsB] = await Promise.all([readToEnd(a), readToEnd(b)])
    expect(eventsB).toEqual(eventsA)
    expect(outline(eventsA).filter((type) => type.startsWith('agent.started'))).toEqual([
      'agent.started:tech-lead',
      'agent.started:frontend',
    ])

    // A new intent (a new key) is a new run; so is the same key from another user.
    const fresh = await execute(origin, task, { ...JSON_AUTH, 'Idempotency-Key': crypto.randomUUID() })
    const teammate = await execute(origin, task, { ...headers, authorization: 'Bearer teammate-token' })
    const ids = new Set([id, fresh.headers.get('x-execution-id'), teammate.headers.get('x-execution-id')])
    expect(ids.size).toBe(3)
    await Promise.all([readToEnd(fresh), readToEnd(teammate)])
  })

  it('cancels a run for its owner only; every viewer sees run.cancelled', async () => {
    const origin = await serve({ pace: 1 })
    const response = await execute(origin, { ...task, selectedAgents: ['backend', 'qa'] })
    const id = response.headers.get('x-execution-id') ?? ''
    const reader = readSse(response)
    await reader.until((log) => log.events.some((event) => event.event === 'agent.started'))

    const url = `${origin}/api/agents/executions/${id}`
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(401)
    const notTheirs = await fetch(url, {
      method: 'DELETE',
      headers: { authorization: 'Bearer teammate-token' },
    })
    expect(notTheirs.status).toBe(404)
    const cancelled = await fetch(url, { method: 'DELETE', headers: AUTH })
    expect(cancelled.status).toBe(202)

    await reader.toEnd(10_000)
    const events = eventsOf(reader)
    const types = outline(events)
    expect(types.slice(0, 3)).toEqual(['run.started', 'task.created', 'agent.started:backend'])
    expect(types.at(-1)).toBe('run.cancelled')
    // The backend agent was stopped mid-work (a progress may have slipped in); QA never started.
    expect(types.filter((type) => !type.startsWith('agent.progress')).slice(3)).toEqual(['run.cancelled'])
    expect(events.at(-1)?.data).toEqual({ reason: 'Cancelled by the user.' })

    expect((await fetch(url, { method: 'DELETE', headers: AUTH })).status).toBe(404) // nothing runs there now
    const replay = await readToEnd(await fetch(`${url}/events`, { headers: AUTH }))
    expect(replay).toEqual(events)
  })
})

describe('the taskwire client', () => {
  it('POSTs with headers over the fetch transport and folds the run to its end', async () => {
    const origin = await serve({ pace: 0.01 })
    const stream = connect(`${origin}/api/agents/execute/stream`, {
      transport: fetchTransport,
      method: 'POST',
      // The key goes with every attempt, so a reconnect attaches to this run.
      headers: { ...JSON_AUTH, 'Idempotency-Key': crypto.randomUUID() },
      body: JSON.stringify({
        taskDescription: 'Add a dark mode toggle',
        selectedAgents: ['tech-lead', 'backend', 'flaky'],
        executionMode: 'parallel',
      }),
    })
    const run = createRunStore(stream)
    const failures: string[] = []
    stream.on('agent.failed', (event) => failures.push(`${event.data.role}: ${event.data.error.message}`))
    const closed = new Promise<void>((resolve) => {
      stream.onStatus((status) => status === 'closed' && resolve())
    })
    await closed

    const state = run.getState()
    expect(stream.error).toBeNull()
    expect(state.status).toBe('failed')
    expect(state.agentOrder).toEqual(['tech-lead', 'backend', 'flaky'])
    expect(state.agents['tech-lead']).toMatchObject({ status: 'completed', hasArtifacts: true })
    expect(state.agents.backend?.durationMs).toEqual(expect.any(Number))
    expect(state.agents.flaky).toMatchObject({
      status: 'failed',
      error: { message: 'API rate limit exceeded' },
    })
    expect(state.tasks[0]?.meta).toMatchObject({ executionMode: 'parallel' })
    expect(failures).toEqual(['flaky: API rate limit exceeded'])
    stream.close()
  })

  it('stops for good on a 401', async () => {
    const origin = await serve()
    const stream = connect(`${origin}/api/agents/execute/stream`, {
      transport: fetchTransport,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
      onError: () => {}, // the error is asserted below, not logged
    })
    const closed = new Promise<void>((resolve) => {
      stream.onStatus((status) => status === 'closed' && resolve())
    })
    await closed
    expect(stream.error).toBeInstanceOf(TaskwireHttpError)
    expect((stream.error as TaskwireHttpError).status).toBe(401)
    stream.close()
  })
})

describe.skipIf(!redisAvailable)(
  `two servers on one Redis${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    it('attaches a start repeated on the other server to the running execution', async () => {
      const [a, b] = [await serve({ redisUrl, pace: 0.02 }), await serve({ redisUrl, pace: 0.02 })]
      const headers = { ...JSON_AUTH, 'Idempotency-Key': crypto.randomUUID() }
      const task = {
        taskDescription: 'Ship it',
        selectedAgents: ['tech-lead', 'qa'],
        executionMode: 'sequential',
      }
      const first = await execute(a, task, headers)
      const reader = readSse(first)
      await reader.until((log) => log.events.some((event) => event.event === 'agent.started'))
      const second = await execute(b, task, headers)
      expect(second.headers.get('x-execution-id')).toBe(first.headers.get('x-execution-id'))
      expect(second.headers.get('idempotent-replayed')).toBe('true')
      await reader.toEnd(10_000)
      expect(await readToEnd(second)).toEqual(eventsOf(reader))
      expect(eventsOf(reader).at(-1)?.type).toBe('run.completed')
    })
  },
)
