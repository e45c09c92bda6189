import { createParser } from 'eventsource-parser'
import { type Envelope, initialRunState, type RunState, reduceRun } from 'taskwire'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  deleteKeys,
  freshPrefix,
  redisAvailable,
  redisSkipReason,
  redisUrl,
} from '../../test/helpers/redis.js'
import { readSse } from '../../test/helpers/sse-reader.js'
import type { ExampleOptions } from '../shared/example-app.js'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createWorkflowBuilderApp, type ExecuteAnswer } from './app.js'
import { demoWorkflow } from './workflow.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** What a route this example does not own answers: proves `handle` left it alone. */
const NOT_MINE = 418

/** One instance of the example on its own server, as the playground serves it. */
async function serve(options: ExampleOptions = {}): Promise<ServedApps> {
  const app = await createWorkflowBuilderApp({ pace: 0, ...options })
  const served = await serveApps([app], {
    fallback: (_req, res) => void res.writeHead(NOT_MINE).end(),
  })
  cleanups.push(() => served.close())
  return served
}

async function execute(origin: string, body?: unknown): Promise<ExecuteAnswer> {
  const response = await fetch(`${origin}/api/workflows/demo/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  expect(response.status).toBe(202)
  return (await response.json()) as ExecuteAnswer
}

/** Reads an execution's SSE stream to its end, as `curl -N` would. */
async function readStream(origin: string, path: string, lastEventId?: string): Promise<Envelope[]> {
  const response = await fetch(`${origin}${path}`, {
    headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
  })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
  const log = await readSse(response).toEnd()
  return log.events.map((event) => JSON.parse(event.data) as Envelope)
}

/**
 * Follows an execution over WebSocket as a `ws` client: sends the cursor first, collects the
 * SSE frames the server sends as messages until it closes the socket.
 */
function readWebSocket(
  origin: string,
  path: string,
  lastEventId: string | null = null,
): Promise<{ events: Envelope[]; code: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${origin.replace(/^http/, 'ws')}${path}`)
    const events: Envelope[] = []
    const parser = createParser({ onEvent: (event) => events.push(JSON.parse(event.data) as Envelope) })
    const deadline = setTimeout(() => {
      socket.terminate()
      reject(new Error(`no close within 10 s; got ${JSON.stringify(events)}`))
    }, 10_000)
    socket.on('open', () => socket.send(JSON.stringify({ lastEventId })))
    socket.on('message', (data: Buffer) => parser.feed(data.toString('utf8')))
    socket.on('error', () => {}) // a close with its code follows
    socket.on('close', (code) => {
      clearTimeout(deadline)
      resolve({ events, code })
    })
  })
}

const fold = (events: readonly Envelope[]): RunState => events.reduce(reduceRun, initialRunState)
const indexOf = (events: readonly Envelope[], type: string, nodeId: string): number =>
  events.findIndex((event) => event.type === type && (event.data as { nodeId?: string }).nodeId === nodeId)
const idsAndTypes = (events: readonly Envelope[]): string[] =>
  events.map((event) => `${event.id} ${event.type}`)

describe('workflow builder: the graph and the execute route', () => {
  it('serves the demo graph with node positions and edges, and 404 for another workflow', async () => {
    const { origin } = await serve()
    const response = await fetch(`${origin}/api/workflows/demo`)
    expect(response.status).toBe(200)
    const graph = (await response.json()) as typeof demoWorkflow
    expect(graph.nodes.map((node) => node.id)).toEqual([
      'trigger',
      'research',
      'summarize',
      'extract',
      'output',
    ])
    expect(
      graph.nodes.every((node) => Number.isFinite(node.position.x) && Number.isFinite(node.position.y)),
    ).toBe(true)
    expect(graph.edges).toContainEqual({ id: 'research-extract', source: 'research', target: 'extract' })

    const missing = await fetch(`${origin}/api/workflows/nope`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ error: { code: 'not-found', message: 'No workflow nope.' } })
  })

  it('answers 202 with the execution id and its SSE and WebSocket addresses, with or without a body', async () => {
    const { origin } = await serve()
    const answer = await execute(origin, { failureRate: 0, seed: 42 })
    expect(answer).toMatchObject({ workflowId: 'demo', seed: 42, failureRate: 0 })
    expect(answer.executionId).toMatch(/^exec-[0-9a-f-]{36}$/)
    expect(answer.events).toBe(`/api/workflows/executions/${answer.executionId}/events`)
    expect(answer.ws).toBe(`/ws/workflows/executions/${answer.executionId}`)

    const bare = await fetch(`${origin}/api/workflows/demo/execute`, { method: 'POST' })
    expect(bare.status).toBe(202)
    expect(((await bare.json()) as ExecuteAnswer).failureRate).toBe(0.1)
  })

  it('answers 400 with the fields at fault, 413 for a large body, 404 for an unknown workflow', async () => {
    const { origin } = await serve()
    const post = (body: string, path = '/api/workflows/demo/execute') =>
      fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const issuesOf = async (response: Response) => {
      expect(response.status).toBe(400)
      const body = (await response.json()) as { error: { code: string; issues: { path: string }[] } }
      expect(body.error.code).toBe('invalid-body')
      return body.error.issues.map((issue) => issue.path)
    }
    expect(await issuesOf(await post('{"failureRate": 2, "seed": 1.5}'))).toEqual(['failureRate', 'seed'])
    expect(await issuesOf(await post('{"failureRate": "high"}'))).toEqual(['failureRate'])
    expect(await issuesOf(await post('{"failurerate": 0}'))).toEqual([''])
    const notJson = await post('{not json')
    expect(notJson.status).toBe(400)
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid-json')
    expect(await issuesOf(await post('[1, 2]'))).toEqual([''])

    const large = await post(JSON.stringify({ seed: 1, padding: 'x'.repeat(5000) }))
    expect(large.status).toBe(413)

    const unknown = await post('{}', '/api/workflows/nope/execute')
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not-found')
  })

  it('leaves the routes of other examples alone', async () => {
    const { origin } = await serve()
    for (const path of ['/api/workflows/demo/events', '/api/workflows/demo/tasks', '/api/workflows']) {
      expect((await fetch(`${origin}${path}`)).status, path).toBe(NOT_MINE)
    }
    expect((await fetch(`${origin}/api/workflows/demo`, { method: 'DELETE' })).status).toBe(NOT_MINE)
  })
})

describe('workflow builder: following an execution', () => {
  it('streams every node in graph order over SSE: run.started with all nodes pending, run.completed last', async () => {
    const { origin } = await serve()
    const { executionId, events: path } = await execute(origin, { failureRate: 0 })
    const events = await readStream(origin, path)

    const [first] = events
    expect(first?.type).toBe('run.started')
    expect(first?.data).toEqual({
      executionId,
      workflowId: 'demo',
      mode: 'manual',
      nodes: demoWorkflow.nodes.map((node) => ({ nodeId: node.id, name: node.name })),
    })
    const announced = fold(events.slice(0, 1))
    expect(Object.values(announced.nodes).map((node) => node.status)).toEqual(Array(5).fill('pending'))

    for (const node of demoWorkflow.nodes) {
      const started = indexOf(events, 'node.started', node.id)
      expect(started, node.id).toBeGreaterThan(0)
      expect(indexOf(events, 'node.completed', node.id), node.id).toBeGreaterThan(started)
    }
    // A node starts only after every node feeding it completed: both branches wait for
    // Research, and Output waits for both branches.
    for (const edge of demoWorkflow.edges) {
      expect(indexOf(events, 'node.completed', edge.source), edge.id).toBeLessThan(
        indexOf(events, 'node.started', edge.target),
      )
    }
    expect(events.at(-1)?.type).toBe('run.completed')
    expect(events.filter((event) => event.type.startsWith('run.'))).toHaveLength(2)

    const state = fold(events)
    expect(state.status).toBe('completed')
    expect(Object.values(state.nodes).every((node) => node.status === 'completed')).toBe(true)
    expect(state.nodes.research?.output).toMatchObject({
      result: expect.stringMatching(/^Found \d+ relevant documents$/),
    })
    expect(state.output).toEqual({ report: 'research-brief.md', sections: 2 })
  })

  it('sends the same events with the same ids over WebSocket, live, as over SSE', async () => {
    const { origin } = await serve({ pace: 0.02 })
    const { events: path, ws } = await execute(origin, { failureRate: 0 })
    // Both follow the run while it goes on, not only its replay.
    const [sse, socket] = await Promise.all([readStream(origin, path), readWebSocket(origin, ws)])
    expect(sse.at(-1)?.type).toBe('run.completed')
    expect(idsAndTypes(socket.events)).toEqual(idsAndTypes(sse))
    expect(socket.events).toEqual(sse)
    expect(socket.code).toBe(1000)
  })

  it('fails the run when a node fails: node.failed, then run.failed, and nothing downstream starts', async () => {
    const { origin } = await serve()
    const { events: path } = await execute(origin, { failureRate: 1 })
    const events = await readStream(origin, path)
    expect(events.map((event) => event.type)).toEqual([
      'run.started',
      'node.started',
      'node.failed',
      'run.failed',
    ])
    expect(events[2]?.data).toMatchObject({ nodeId: 'trigger', error: { code: 'node-failed' } })
    expect(events[3]?.data).toEqual({
      error: { message: 'Manual trigger failed: The trigger payload has no topic', code: 'node-failed' },
    })
    const state = fold(events)
    expect(state.status).toBe('failed')
    expect(Object.fromEntries(Object.values(state.nodes).map((node) => [node.id, node.status]))).toEqual({
      trigger: 'failed',
      research: 'pending',
      summarize: 'pending',
      extract: 'pending',
      output: 'pending',
    })
  })

  it('replays a seeded run identically: a failed branch lets its sibling finish, and Output stays pending', async () => {
    const { origin } = await serve()
    const outcome = async () => {
      const { events: path } = await execute(origin, { failureRate: 0.3, seed: 2 })
      const state = fold(await readStream(origin, path))
      return {
        status: state.status,
        error: state.error,
        nodes: Object.values(state.nodes).map(({ id, status, output }) => ({ id, status, output })),
      }
    }
    const first = await outcome()
    expect(first.status).toBe('failed')
    expect(first.error?.message).toBe("Summarize failed: The model's context window was exceeded")
    expect(Object.fromEntries(first.nodes.map((node) => [node.id, node.status]))).toEqual({
      trigger: 'completed',
      research: 'completed',
      summarize: 'failed',
      extract: 'completed',
      output: 'pending',
    })
    expect(await outcome()).toEqual(first)
  })

  it('resumes after Last-Event-ID mid-run without a gap or a duplicate, and answers 204 after the end', async () => {
    const { origin } = await serve({ pace: 0.05 })
    const { events: path } = await execute(origin, { failureRate: 0 })
    const response = await fetch(`${origin}${path}`)
    const reader = readSse(response)
    const head = (await reader.events(3)).map((event) => JSON.parse(event.data) as Envelope)
    await reader.cancel() // the connection drops mid-run

    const tail = await readStream(origin, path, head.at(-1)?.id)
    const whole = await readStream(origin, path)
    expect(idsAndTypes([...head, ...tail])).toEqual(idsAndTypes(whole))
    expect(tail.at(-1)?.type).toBe('run.completed')

    const after = await fetch(`${origin}${path}`, { headers: { 'last-event-id': whole.at(-1)?.id ?? '' } })
    expect(after.status).toBe(204)
  })

  it('answers 404 on SSE and closes 4404 on WebSocket for an unknown execution', async () => {
    const { origin } = await serve()
    const response = await fetch(`${origin}/api/workflows/executions/exec-nope/events`)
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({
      error: { code: 'not-found', message: 'No execution exec-nope.' },
    })
    const socket = await readWebSocket(origin, '/ws/workflows/executions/exec-nope')
    expect(socket).toEqual({ events: [], code: 4404 })
  })
})

const prefix = freshPrefix('workflow-builder')
afterAll(async () => {
  if (redisAvailable) await deleteKeys(prefix)
})

describe.skipIf(!redisAvailable)(
  `workflow builder on Redis, two instances${redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''}`,
  () => {
    const twoInstances = () =>
      Promise.all([
        serve({ redisUrl, redisPrefix: prefix, pace: 0.05 }),
        serve({ redisUrl, redisPrefix: prefix, pace: 0.05 }),
      ])

    it('serves an execution started on A from B, over SSE and WebSocket, with the same events and ids', async () => {
      const [a, b] = await twoInstances()
      const { events: path, ws } = await execute(a.origin, { failureRate: 0 })
      // Asked for right after the POST, B already finds the run (its run.started is in Redis).
      const [sse, socket] = await Promise.all([readStream(b.origin, path), readWebSocket(b.origin, ws)])
      expect(sse[0]?.type).toBe('run.started')
      expect(sse.at(-1)?.type).toBe('run.completed')
      expect(socket.events).toEqual(sse)
      expect(await readStream(a.origin, path)).toEqual(sse)
      expect(fold(sse).status).toBe('completed')
    })

    it('resumes on A, after Last-Event-ID, a stream that dropped mid-run on B', async () => {
      const [a, b] = await twoInstances()
      const { events: path } = await execute(a.origin, { failureRate: 0 })
      const reader = readSse(await fetch(`${b.origin}${path}`))
      const head = (await reader.events(4)).map((event) => JSON.parse(event.data) as Envelope)
      await reader.cancel()

      const tail = await readStream(a.origin, path, head.at(-1)?.id)
      expect(tail[0]?.id).not.toBe(head.at(-1)?.id)
      const whole = await readStream(b.origin, path)
      expect([...head, ...tail]).toEqual(whole)
    })

    it('answers 404 for an execution no instance started', async () => {
      const [, b] = await twoInstances()
      expect((await fetch(`${b.origin}/api/workflows/executions/exec-nope/events`)).status).toBe(404)
    })
  },
)
