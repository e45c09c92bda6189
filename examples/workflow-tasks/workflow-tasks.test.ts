import { compareEventIds, type RunState } from 'taskwire'
import { connect, createRunStore } from 'taskwire/client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { redisAvailable, redisUrl } from '../../test/helpers/redis.js'
import { readSse, type SseReader } from '../../test/helpers/sse-reader.js'
import type { ExampleApp, ExampleOptions } from '../shared/example-app.js'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createWorkflowTasksApp } from './app.js'
import { createWorkflowHub } from './lib/hub.js'
import { createTaskStore, type Task } from './lib/tasks.js'
import { createWorkflowTasks } from './lib/workflow-tasks.js'

/** An event as it arrived: the SSE id and event name, and the envelope in `data`. */
interface Received {
  id: string | undefined
  event: string | undefined
  envelope: { type: string; stream: string; id: string; data: Record<string, unknown> }
}

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A fresh app on its own server; anything no route of the app serves is answered 418. */
async function start(options: ExampleOptions = {}): Promise<ServedApps> {
  const app: ExampleApp = await createWorkflowTasksApp({ pace: 0, ...options })
  const served = await serveApps([app], { fallback: (_req, res) => res.writeHead(418).end('not mine') })
  cleanups.push(async () => {
    // Cut the connections first and let their 'close' events end the streams as clients
    // that left: closed first, the hub would cut each stream itself, which @hono/node-server
    // logs. Destroyed sockets emit 'close' in the loop's close phase, after this turn's
    // setImmediate callbacks: the second turn runs after them.
    served.server.closeAllConnections()
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve))
    await served.close()
  })
  return served
}

function send(origin: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${origin}/api/workflows${path}`, {
    method,
    ...(body === undefined
      ? {}
      : {
          headers: { 'content-type': 'application/json' },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        }),
  })
}

async function listTasks(origin: string, workflowId = 'demo'): Promise<Task[]> {
  const response = await send(origin, 'GET', `/${workflowId}/tasks`)
  expect(response.status).toBe(200)
  return ((await response.json()) as { tasks: Task[] }).tasks
}

/** Reads a stream's events one at a time, in the order they arrived. */
class EventStream {
  #read = 0
  constructor(
    readonly response: Response,
    readonly reader: SseReader,
  ) {}

  async next(): Promise<Received> {
    const event = (await this.reader.events(++this.#read)).at(-1)
    if (!event) throw new Error('no event')
    return { id: event.id, event: event.event, envelope: JSON.parse(event.data) as Received['envelope'] }
  }
}

async function openEvents(
  origin: string,
  workflowId = 'demo',
  headers: Record<string, string> = {},
): Promise<EventStream> {
  const controller = new AbortController()
  const response = await fetch(`${origin}/api/workflows/${workflowId}/events`, {
    headers,
    signal: controller.signal,
  })
  cleanups.push(() => controller.abort())
  return new EventStream(response, readSse(response))
}

const taskIds = (tasks: readonly { id: string }[]) => tasks.map((task) => task.id)

describe('workflow-tasks over HTTP', () => {
  it('serves the seeded demo workflow: the list newest first, the stream as SSE opening with the same tasks', async () => {
    const { origin } = await start()
    const tasks = await listTasks(origin)
    expect(taskIds(tasks)).toEqual(['review-api', 'draft-schema', 'collect-requirements'])
    expect(tasks.map((task) => task.status)).toEqual(['pending', 'in_progress', 'completed'])

    const stream = await openEvents(origin)
    expect(stream.response.status).toBe(200)
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(stream.response.headers.get('cache-control')).toContain('no-cache')
    const first = await stream.next()
    expect(stream.reader.log.items[0]).toEqual({ kind: 'retry', value: 2000 })
    expect(first.event).toBe('stream.snapshot')
    const state = first.envelope.data.state as RunState
    // The stream keeps creation order; the page reverses it.
    expect(taskIds(state.tasks)).toEqual(['collect-requirements', 'draft-schema', 'review-api'])
    expect(state.tasks.map((task) => task.status)).toEqual(['completed', 'in_progress', 'pending'])
  })

  it('publishes each write to the stream after storing it: created, updated, status, completed, deleted', async () => {
    const { origin } = await start()
    const stream = await openEvents(origin)
    expect((await stream.next()).event).toBe('stream.snapshot')

    const created = await send(origin, 'POST', '/demo/tasks', {
      title: 'Write the release notes',
      description: 'For 2.0',
    })
    expect(created.status).toBe(201)
    const { task } = (await created.json()) as { task: Task }
    expect(task).toMatchObject({
      title: 'Write the release notes',
      description: 'For 2.0',
      status: 'pending',
    })
    const events = [await stream.next()]
    expect(events[0]?.envelope).toMatchObject({
      type: 'task.created',
      stream: 'demo',
      data: { taskId: task.id, title: 'Write the release notes', description: 'For 2.0', status: 'pending' },
    })
    // The event follows the write: whoever reloads on it finds the task, on top.
    expect(taskIds(await listTasks(origin))[0]).toBe(task.id)

    const renamed = await send(origin, 'PATCH', `/demo/tasks/${task.id}`, {
      title: 'Write the 2.0 release notes',
    })
    expect(renamed.status).toBe(200)
    expect(((await renamed.json()) as { task: Task }).task.title).toBe('Write the 2.0 release notes')
    events.push(await stream.next())
    expect(events[1]?.envelope).toMatchObject({
      type: 'task.updated',
      data: { taskId: task.id, title: 'Write the 2.0 release notes' },
    })
    expect((await listTasks(origin))[0]?.title).toBe('Write the 2.0 release notes')

    expect((await send(origin, 'PATCH', `/demo/tasks/${task.id}`, { status: 'in_progress' })).status).toBe(
      200,
    )
    events.push(await stream.next())
    expect(events[2]?.envelope).toMatchObject({
      type: 'task.status',
      data: { taskId: task.id, status: 'in_progress' },
    })
    expect((await listTasks(origin))[0]?.status).toBe('in_progress')

    expect((await send(origin, 'PATCH', `/demo/tasks/${task.id}`, { status: 'completed' })).status).toBe(200)
    events.push(await stream.next())
    expect(events[3]?.envelope).toMatchObject({ type: 'task.completed', data: { taskId: task.id } })
    expect((await listTasks(origin))[0]?.status).toBe('completed')

    const deleted = await send(origin, 'DELETE', `/demo/tasks/${task.id}`)
    expect(deleted.status).toBe(204)
    events.push(await stream.next())
    expect(events[4]?.envelope).toMatchObject({ type: 'task.deleted', data: { taskId: task.id } })
    expect(taskIds(await listTasks(origin))).toEqual(['review-api', 'draft-schema', 'collect-requirements'])

    // Every frame names its type and carries an id, the same as its envelope's, each after the last.
    for (const event of events) {
      expect(event.event).toBe(event.envelope.type)
      expect(event.id).toBe(event.envelope.id)
    }
    const ids = events.map((event) => event.id ?? '')
    for (let i = 1; i < ids.length; i++)
      expect(compareEventIds(ids[i - 1] ?? '', ids[i] ?? '')).toBeLessThan(0)
  })

  it('publishes an edit and a status change in one PATCH as task.updated then task.status, and nothing for no change', async () => {
    const { origin } = await start()
    const stream = await openEvents(origin)
    await stream.next()

    const unchanged = await send(origin, 'PATCH', '/demo/tasks/review-api', { status: 'pending' })
    expect(unchanged.status).toBe(200)
    const both = await send(origin, 'PATCH', '/demo/tasks/review-api', {
      description: 'Check the error shapes.',
      status: 'failed',
    })
    expect(both.status).toBe(200)
    expect((await stream.next()).envelope).toMatchObject({
      type: 'task.updated',
      data: { taskId: 'review-api', description: 'Check the error shapes.' },
    })
    expect((await stream.next()).envelope).toMatchObject({
      type: 'task.status',
      data: { taskId: 'review-api', status: 'failed' },
    })
  })

  it('replays only the events after Last-Event-ID to a page that reconnects, then goes live', async () => {
    const { origin } = await start()
    const first = await openEvents(origin)
    await first.next()
    const created = (await (await send(origin, 'POST', '/demo/tasks', { title: 'Resume me' })).json()) as {
      task: Task
    }
    const path = `/demo/tasks/${created.task.id}`
    const seen = await first.next()
    await send(origin, 'PATCH', path, { title: 'Resumed' })
    await send(origin, 'PATCH', path, { status: 'in_progress' })
    const missed = [await first.next(), await first.next()]

    const resumed = await openEvents(origin, 'demo', { 'last-event-id': seen.id ?? '' })
    expect(resumed.response.status).toBe(200)
    const replayed = [await resumed.next(), await resumed.next()]
    expect(replayed.map((event) => [event.id, event.event])).toEqual(
      missed.map((event) => [event.id, event.event]),
    )
    expect(replayed.map((event) => event.event)).toEqual(['task.updated', 'task.status'])

    await send(origin, 'DELETE', path)
    const live = await resumed.next()
    expect(live.envelope).toMatchObject({ type: 'task.deleted', data: { taskId: created.task.id } })
    // No snapshot and no event from before the cursor came first.
    expect(resumed.reader.log.events.map((event) => event.event)).toEqual([
      'task.updated',
      'task.status',
      'task.deleted',
    ])
  })

  it('answers 404 with a JSON error for an unknown workflow or task, the stream included', async () => {
    const { origin } = await start()
    const cases: [string, string, unknown?][] = [
      ['GET', '/nope/tasks'],
      ['POST', '/nope/tasks', { title: 'Lost' }],
      ['PATCH', '/nope/tasks/review-api', { status: 'completed' }],
      ['PATCH', '/demo/tasks/missing', { status: 'completed' }],
      ['DELETE', '/demo/tasks/missing'],
      ['GET', '/nope/events'],
    ]
    for (const [method, path, body] of cases) {
      const response = await send(origin, method, path, body)
      expect(response.status, `${method} ${path}`).toBe(404)
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      const text = await response.text()
      expect(text).not.toContain('retry:')
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'not-found' } })
    }
    expect((await (await send(origin, 'GET', '/nope/events')).json()) as unknown).toMatchObject({
      error: { message: 'No workflow nope.' },
    })
    // Nothing was created or deleted along the way.
    expect(taskIds(await listTasks(origin))).toEqual(['review-api', 'draft-schema', 'collect-requirements'])
  })

  it('answers 400 naming each invalid field, and publishes nothing for it', async () => {
    const { origin } = await start()
    const stream = await openEvents(origin)
    await stream.next()

    const issuesOf = async (response: Response) => {
      expect(response.status).toBe(400)
      const body = (await response.json()) as {
        error: { code: string; issues: { path: string; message: string }[] }
      }
      expect(body.error.code).toBe('invalid-body')
      return body.error.issues
    }
    expect(
      (await issuesOf(await send(origin, 'POST', '/demo/tasks', {}))).map((issue) => issue.path),
    ).toEqual(['title'])
    const many = await issuesOf(
      await send(origin, 'POST', '/demo/tasks', { title: '  ', status: 'done', owner: 'me' }),
    )
    expect(many.map((issue) => issue.path).sort()).toEqual(['owner', 'status', 'title'])
    expect(many.find((issue) => issue.path === 'title')?.message).toBe('Give the task a title.')
    expect(await issuesOf(await send(origin, 'POST', '/demo/tasks', 'not json'))).toEqual([
      { path: '', message: 'The body must be JSON.', code: 'invalid-json' },
    ])
    expect(await issuesOf(await send(origin, 'POST', '/demo/tasks'))).toHaveLength(1)
    expect((await issuesOf(await send(origin, 'POST', '/demo/tasks', [1])))[0]?.path).toBe('')
    expect((await issuesOf(await send(origin, 'PATCH', '/demo/tasks/review-api', {})))[0]?.message).toBe(
      'Send at least one of title, description and status.',
    )
    expect(
      (await issuesOf(await send(origin, 'PATCH', '/demo/tasks/review-api', { status: 'done' }))).map(
        (issue) => issue.path,
      ),
    ).toEqual(['status'])
    expect(
      (await issuesOf(await send(origin, 'PATCH', '/demo/tasks/review-api', { title: 7 }))).map(
        (issue) => issue.path,
      ),
    ).toEqual(['title'])

    // The first event after all that is the next valid write's.
    await send(origin, 'PATCH', '/demo/tasks/review-api', { status: 'in_progress' })
    expect((await stream.next()).envelope).toMatchObject({
      type: 'task.status',
      data: { taskId: 'review-api' },
    })
    expect((await listTasks(origin)).find((task) => task.id === 'review-api')).toMatchObject({
      title: 'Review the API design',
      status: 'in_progress',
    })
  })

  it('claims only its own routes, leaving workflow executions and other methods to the server', async () => {
    const { origin } = await start()
    const notMine: [string, string][] = [
      ['POST', '/api/workflows/demo/execute'],
      ['GET', '/api/workflows/executions/exec-1'],
      ['GET', '/api/workflows/executions/events'],
      ['GET', '/api/workflows/executions/tasks'],
      ['PUT', '/api/workflows/demo/tasks'],
      ['POST', '/api/workflows/demo/events'],
      ['GET', '/api/workflows/demo/tasks/review-api'],
      ['GET', '/api/workflows/demo'],
      ['GET', '/api/workflows/%E0%A4%A/tasks'],
    ]
    for (const [method, path] of notMine) {
      const response = await fetch(`${origin}${path}`, { method })
      expect(response.status, `${method} ${path}`).toBe(418)
      await response.body?.cancel()
    }
    // A workflow id with an escaped character is decoded, as Next.js decodes params.
    expect((await fetch(`${origin}/api/workflows/de%6Do/tasks`)).status).toBe(200)
  })

  it('gives each app its own hub and tasks', async () => {
    const a = await start()
    const b = await start()
    expect((await send(a.origin, 'POST', '/demo/tasks', { title: 'Only in A' })).status).toBe(201)
    expect(await listTasks(a.origin)).toHaveLength(4)
    expect(await listTasks(b.origin)).toHaveLength(3)
  })

  it('keeps the client’s folded list equal to the GET list, as the page shows it', async () => {
    const { origin } = await start()
    const handle = connect(`${origin}/api/workflows/demo/events`)
    cleanups.push(() => handle.close())
    const run = createRunStore(handle)
    // Resolves once the folded state passes a check, looked at after each change.
    const waiters = new Set<() => void>()
    cleanups.push(
      run.subscribe(() => {
        for (const check of [...waiters]) check()
      }),
    )
    const until = (ready: (state: RunState) => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!ready(run.getState())) return
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
        check()
      })

    await until((state) => state.tasks.length === 3)
    const { task } = (await (await send(origin, 'POST', '/demo/tasks', { title: 'Folded' })).json()) as {
      task: Task
    }
    await send(origin, 'PATCH', '/demo/tasks/draft-schema', { status: 'completed' })
    await send(origin, 'DELETE', '/demo/tasks/collect-requirements')
    await until((state) => state.tasks.length === 3 && state.tasks.some((t) => t.id === task.id))
    await until((state) => state.tasks.find((t) => t.id === 'draft-schema')?.status === 'completed')

    const shown = [...run.getState().tasks].reverse()
    const listed = await listTasks(origin)
    expect(shown.map((t) => [t.id, t.title, t.status])).toEqual(listed.map((t) => [t.id, t.title, t.status]))
  })
})

describe('the Next.js route handlers, called as Next calls them', () => {
  it('serve the same routes without any server', async () => {
    // The route modules share the process's one instance; keep it in memory here.
    vi.stubEnv('REDIS_URL', '')
    cleanups.push(() => {
      vi.unstubAllEnvs()
    })
    const tasksRoute = await import('./app/api/workflows/[id]/tasks/route.js')
    const taskRoute = await import('./app/api/workflows/[id]/tasks/[taskId]/route.js')
    const eventsRoute = await import('./app/api/workflows/[id]/events/route.js')
    const { closeWorkflowTasks } = await import('./lib/instance.js')
    cleanups.push(closeWorkflowTasks)
    expect(eventsRoute.dynamic).toBe('force-dynamic')
    expect(eventsRoute.runtime).toBe('nodejs')
    expect(tasksRoute.dynamic).toBe('force-dynamic')

    const workflow = (id: string) => ({ params: Promise.resolve({ id }) })
    const url = 'http://localhost:3000/api/workflows/demo'
    const controller = new AbortController()
    const response = await eventsRoute.GET(
      new Request(`${url}/events`, { signal: controller.signal }),
      workflow('demo'),
    )
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const stream = new EventStream(response, readSse(response))
    expect((await stream.next()).event).toBe('stream.snapshot')

    const created = await tasksRoute.POST(
      new Request(`${url}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'Called directly' }),
      }),
      workflow('demo'),
    )
    expect(created.status).toBe(201)
    const { task } = (await created.json()) as { task: Task }
    expect((await stream.next()).envelope).toMatchObject({ type: 'task.created', data: { taskId: task.id } })

    const taskContext = { params: Promise.resolve({ id: 'demo', taskId: task.id }) }
    const patch = new Request(`${url}/tasks/${task.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ status: 'completed' }),
    })
    expect((await taskRoute.PATCH(patch, taskContext)).status).toBe(200)
    expect((await stream.next()).envelope).toMatchObject({
      type: 'task.completed',
      data: { taskId: task.id },
    })
    const invalid = new Request(`${url}/tasks/${task.id}`, { method: 'PATCH', body: '{"status":"done"}' })
    expect(
      (await taskRoute.PATCH(invalid, { params: Promise.resolve({ id: 'demo', taskId: task.id }) })).status,
    ).toBe(400)
    const removed = new Request(`${url}/tasks/${task.id}`, { method: 'DELETE' })
    expect(
      (await taskRoute.DELETE(removed, { params: Promise.resolve({ id: 'demo', taskId: task.id }) })).status,
    ).toBe(204)
    expect((await stream.next()).envelope).toMatchObject({ type: 'task.deleted', data: { taskId: task.id } })

    const list = (await (await tasksRoute.GET(new Request(`${url}/tasks`), workflow('demo'))).json()) as {
      tasks: Task[]
    }
    expect(list.tasks.some((t) => t.id === task.id)).toBe(false)
    expect(
      (
        await eventsRoute.GET(
          new Request('http://localhost:3000/api/workflows/nope/events'),
          workflow('nope'),
        )
      ).status,
    ).toBe(404)

    // The page leaves: the body ends and the hub lets the subscriber go.
    controller.abort()
    expect((await stream.reader.toEnd()).ended).toBe(true)
  })
  it('keep a quiet stream open with a heartbeat comment every 30 seconds', async () => {
    // Only the heartbeat's interval is faked; sockets and promises run as usual.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    cleanups.push(() => {
      vi.useRealTimers()
    })
    const { hub, close } = await createWorkflowHub()
    cleanups.push(close)
    const routes = await createWorkflowTasks({ hub, tasks: createTaskStore() })
    const workflow = { params: Promise.resolve({ id: 'demo' }) }
    const controller = new AbortController()
    cleanups.push(() => controller.abort())
    const response = await routes.events.GET(
      new Request('http://localhost:3000/api/workflows/demo/events', { signal: controller.signal }),
      workflow,
    )
    const stream = new EventStream(response, readSse(response))
    await stream.next()
    const beats = () =>
      stream.reader.log.items.filter((item) => item.kind === 'comment' && item.value === 'hb').length

    vi.advanceTimersByTime(29_999)
    const post = new Request('http://localhost:3000/api/workflows/demo/tasks', {
      method: 'POST',
      body: JSON.stringify({ title: 'Quiet' }),
    })
    expect((await routes.tasks.POST(post, workflow)).status).toBe(201)
    expect((await stream.next()).event).toBe('task.created')
    expect(beats()).toBe(0)

    vi.advanceTimersByTime(1)
    await stream.reader.until(() => beats() === 1)
    vi.advanceTimersByTime(30_000)
    await stream.reader.until(() => beats() === 2)
    expect(stream.reader.log.text).toContain('\n: hb\n\n')
  })
})

describe.skipIf(!redisAvailable)('with the Redis broker', () => {
  it('serves a write made on one server process to a page connected to another', async () => {
    const a = await start({ redisUrl })
    const b = await start({ redisUrl })
    const stream = await openEvents(b.origin)
    const snapshot = await stream.next()
    expect(snapshot.event).toBe('stream.snapshot')
    expect(taskIds((snapshot.envelope.data.state as RunState).tasks)).toEqual([
      'collect-requirements',
      'draft-schema',
      'review-api',
    ])

    const { task } = (await (
      await send(a.origin, 'POST', '/demo/tasks', { title: 'Across processes' })
    ).json()) as {
      task: Task
    }
    await send(a.origin, 'DELETE', `/demo/tasks/${task.id}`)
    // Other servers on the same Redis may write to demo too: keep only this task's events.
    const mine: string[] = []
    for (let i = 0; i < 50 && mine.length < 2; i++) {
      const event = await stream.next()
      if (event.envelope.data.taskId === task.id) mine.push(event.envelope.type)
    }
    expect(mine).toEqual(['task.created', 'task.deleted'])
  })
})
