import { spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readSse, type SseReader } from '../../test/helpers/sse-reader.js'
import type { ExampleOptions } from '../shared/example-app.js'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createJobTaskEventsApp } from './app.js'
import { DEMO_JOB_ID, DEMO_TASKS } from './db.js'
import { runWorker, WorkerError } from './worker.js'

const postgresUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const postgresRequired = process.env.TASKWIRE_REQUIRE_POSTGRES === '1'

/** Why PostgreSQL cannot be used, or undefined when it answered within a second. */
async function probePostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => {})
  }
}

const postgresProblem = await probePostgres(postgresUrl).then((problem) =>
  problem === undefined ? undefined : `no PostgreSQL at ${postgresUrl} (${problem})`,
)
if (postgresProblem !== undefined) {
  if (postgresRequired) throw new Error(`TASKWIRE_REQUIRE_POSTGRES=1 but ${postgresProblem}.`)
  console.warn(
    `Skipping the job-task-events PostgreSQL suite: ${postgresProblem}. Set DATABASE_URL to run it.`,
  )
}

interface Envelope {
  type: string
  id: string
  stream: string
  data: Record<string, unknown>
}

interface JobBody {
  id: string
  title: string
  status: string
  tasks: { id: string; title: string; status: string; note: string | null }[]
  activity: { taskId: string | null; status: string; note: string | null }[]
}

const envelopes = (reader: SseReader): Envelope[] =>
  reader.log.events.map((message) => JSON.parse(message.data) as Envelope)

/** A database for one suite: the embedded one, or a schema of its own on the server. */
interface Backend {
  name: string
  skip: string | undefined
  open(): Promise<{
    databaseUrl: string | undefined
    sql: pg.Client | undefined
    schema: string
    drop(): Promise<void>
  }>
}

const backends: Backend[] = [
  {
    name: 'PGlite',
    skip: undefined,
    open: async () => ({ databaseUrl: undefined, sql: undefined, schema: '', drop: async () => {} }),
  },
  {
    name: 'PostgreSQL',
    skip: postgresProblem,
    async open() {
      // A schema per run, so parallel runs on one server never see each other's rows.
      const schema = `jte_${randomBytes(6).toString('hex')}`
      const sql = new pg.Client({ connectionString: postgresUrl })
      await sql.connect()
      await sql.query(`CREATE SCHEMA ${schema}`)
      const url = new URL(postgresUrl)
      url.searchParams.set('options', `-c search_path=${schema}`)
      return {
        databaseUrl: url.href,
        sql,
        schema,
        async drop() {
          await sql.query(`DROP SCHEMA ${schema} CASCADE`)
          await sql.end()
        },
      }
    },
  },
]

for (const backend of backends) {
  const title = backend.skip ? `${backend.name} (skipped: ${backend.skip})` : backend.name
  describe.skipIf(backend.skip !== undefined)(`job-task-events on ${title}`, () => {
    let served: ServedApps
    let origin: string
    let database: Awaited<ReturnType<Backend['open']>>
    const logs: string[] = []

    const serve = async (options: ExampleOptions = {}): Promise<ServedApps> =>
      serveApps([
        await createJobTaskEventsApp({
          databaseUrl: database.databaseUrl,
          pace: 0,
          log: (line) => logs.push(line),
          ...options,
        }),
      ])

    beforeAll(async () => {
      database = await backend.open()
      served = await serve()
      origin = served.origin
    })
    afterAll(async () => {
      await served?.close()
      await database?.drop()
    })

    const createJob = async (tasks = ['First', 'Second', 'Third'], simulate = false): Promise<JobBody> => {
      const created = await fetch(`${origin}/api/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'A test job', tasks, simulate }),
      })
      expect(created.status).toBe(201)
      const { jobId } = (await created.json()) as { jobId: string }
      expect(created.headers.get('location')).toBe(`/api/jobs/${jobId}`)
      return getJob(jobId)
    }
    const getJob = async (jobId: string): Promise<JobBody> => {
      const response = await fetch(`${origin}/api/jobs/${jobId}`)
      expect(response.status).toBe(200)
      return (await response.json()) as JobBody
    }
    const open = async (jobId: string, headers: Record<string, string> = {}): Promise<SseReader> => {
      const response = await fetch(`${origin}/api/jobs/${jobId}/task-events`, { headers })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
      return readSse(response)
    }
    const post = (path: string, body: unknown, method = 'POST'): Promise<Response> =>
      fetch(`${origin}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
    const hook = (jobId: string, body: unknown): Promise<Response> =>
      post(`/api/agent-hooks/task-update/${jobId}`, body)
    const untilEvent = (reader: SseReader, test: (event: Envelope) => boolean) =>
      reader.until(() => envelopes(reader).some(test))

    it('answers an unknown job with a 404 JSON before any stream byte', async () => {
      for (const id of [randomUUID(), 'not-a-uuid']) {
        const response = await fetch(`${origin}/api/jobs/${id}/task-events`)
        expect(response.status).toBe(404)
        expect(response.headers.get('content-type')).toMatch(/^application\/json/)
        expect(await response.json()).toEqual({ error: { code: 'job-not-found', message: `No job ${id}.` } })
        expect((await fetch(`${origin}/api/jobs/${id}/updates`)).status).toBe(404)
        expect((await fetch(`${origin}/api/jobs/${id}`)).status).toBe(404)
      }
    })

    it('streams the seeded job: a snapshot with its status first, then each webhook update, stored before it is seen', async () => {
      const reader = await open(DEMO_JOB_ID)
      try {
        const [first] = await reader.events(1)
        const snapshot = JSON.parse(first?.data ?? '') as Envelope
        expect(first?.event).toBe('stream.snapshot')
        expect(snapshot.data.meta).toEqual({ jobStatus: 'pending' })
        const state = snapshot.data.state as { tasks: { id: string; title: string; status: string }[] }
        expect(state.tasks.map(({ id, title, status }) => ({ id, title, status }))).toEqual(
          DEMO_TASKS.map(({ id, title }) => ({ id, title, status: 'pending' })),
        )

        const task = DEMO_TASKS[0]
        const accepted = await hook(DEMO_JOB_ID, { taskId: task.id, status: 'in_progress', note: 'Drafting' })
        expect(accepted.status).toBe(202)
        expect(await accepted.json()).toMatchObject({
          task: { id: task.id, status: 'in_progress' },
          jobStatus: 'in_progress',
        })

        await untilEvent(reader, (event) => event.type === 'task.status')
        // The moment the event is read, the task row, the job and the activity log hold it.
        const job = await getJob(DEMO_JOB_ID)
        if (database.sql) {
          const { rows } = await database.sql.query(
            `SELECT t.status, t.note, (SELECT count(*)::int FROM ${database.schema}.job_activity a WHERE a.task_id = t.id) AS activity
             FROM ${database.schema}.tasks t WHERE t.id = $1`,
            [task.id],
          )
          expect(rows).toEqual([{ status: 'in_progress', note: 'Drafting', activity: 1 }])
        }
        expect(job.status).toBe('in_progress')
        expect(job.tasks[0]).toMatchObject({ id: task.id, status: 'in_progress', note: 'Drafting' })
        expect(job.activity).toEqual([
          {
            id: expect.any(Number),
            taskId: task.id,
            status: 'in_progress',
            note: 'Drafting',
            createdAt: expect.any(String),
          },
        ])
        const event = envelopes(reader).find((e) => e.type === 'task.status')
        expect(event).toMatchObject({
          stream: DEMO_JOB_ID,
          data: { taskId: task.id, title: task.title, status: 'in_progress', note: 'Drafting' },
        })
        expect(reader.log.events.map((e) => e.event)).toEqual(['stream.snapshot', 'task.status'])

        // A viewer arriving now is told the job's new status in its snapshot.
        const late = await open(DEMO_JOB_ID)
        const [lateFirst] = await late.events(1)
        expect((JSON.parse(lateFirst?.data ?? '') as Envelope).data.meta).toEqual({
          jobStatus: 'in_progress',
        })
        await late.cancel()
      } finally {
        await reader.cancel()
      }
    })

    it('answers bad webhook bodies with 400 and each invalid field, never 500, and publishes nothing', async () => {
      const job = await createJob()
      const taskId = job.tasks[0]?.id ?? ''
      const cases: [body: string, headers: Record<string, string>, status: number, paths: string[]][] = [
        ['{"taskId":', { 'content-type': 'application/json' }, 400, []],
        ['[]', { 'content-type': 'application/json' }, 400, ['(body)']],
        ['{}', { 'content-type': 'application/json' }, 400, ['status', 'taskId']],
        [JSON.stringify({ taskId, status: 'done' }), { 'content-type': 'application/json' }, 400, ['status']],
        [
          JSON.stringify({ taskId: 7, status: 'completed', note: 5 }),
          { 'content-type': 'application/json' },
          400,
          ['note', 'taskId'],
        ],
        [JSON.stringify({ taskId, status: 'completed' }), { 'content-type': 'text/plain' }, 400, ['(body)']],
        [
          JSON.stringify({ taskId, status: 'completed', note: 'x'.repeat(20_000) }),
          { 'content-type': 'application/json' },
          413,
          [],
        ],
      ]
      for (const [body, headers, status, paths] of cases) {
        const response = await fetch(`${origin}/api/agent-hooks/task-update/${job.id}`, {
          method: 'POST',
          headers,
          body,
        })
        expect(response.status, body.slice(0, 60)).toBe(status)
        const answer = (await response.json()) as { error: { code: string; issues: { path: string }[] } }
        expect(answer.error.issues.map((issue) => issue.path).sort(), body.slice(0, 60)).toEqual(paths)
      }
      // A valid body for a job or task that does not exist.
      const unknownJob = await hook(randomUUID(), { taskId, status: 'completed' })
      expect(unknownJob.status).toBe(404)
      expect(((await unknownJob.json()) as { error: { code: string } }).error.code).toBe('job-not-found')
      for (const missing of [randomUUID(), 'task-123', DEMO_TASKS[1].id]) {
        const unknownTask = await hook(job.id, { taskId: missing, status: 'completed' })
        expect(unknownTask.status).toBe(404)
        expect(((await unknownTask.json()) as { error: { code: string } }).error.code).toBe('task-not-found')
      }
      // The other write routes validate the same way.
      const put = await post(`/api/jobs/${job.id}/tasks/${taskId}`, { status: 'finished', note: [] }, 'PUT')
      expect(put.status).toBe(400)
      expect(
        ((await put.json()) as { error: { issues: { path: string }[] } }).error.issues
          .map((i) => i.path)
          .sort(),
      ).toEqual(['note', 'status'])
      const newJob = await post('/api/jobs', { title: ' ', tasks: [], simulate: 'yes' })
      expect(newJob.status).toBe(400)
      expect(
        ((await newJob.json()) as { error: { issues: { path: string }[] } }).error.issues
          .map((i) => i.path)
          .sort(),
      ).toEqual(['simulate', 'tasks', 'title'])

      // Nothing changed: the stream holds only the tasks' creation.
      const poll = (await (await fetch(`${origin}/api/jobs/${job.id}/updates`)).json()) as {
        events: Envelope[]
      }
      expect(poll.events.map((e) => e.type)).toEqual(['task.created', 'task.created', 'task.created'])
      expect((await getJob(job.id)).activity).toEqual([])
    })

    it('publishes updates made through PUT /api/jobs/:id/tasks/:taskId too', async () => {
      const job = await createJob()
      const [task] = job.tasks
      if (!task) throw new Error('the job has no task')
      const reader = await open(job.id)
      try {
        await reader.events(1)
        const response = await post(
          `/api/jobs/${job.id}/tasks/${task.id}`,
          { status: 'in_progress', note: 'By hand' },
          'PUT',
        )
        expect(response.status).toBe(200)
        expect(await response.json()).toMatchObject({
          task: { id: task.id, status: 'in_progress', note: 'By hand' },
          jobStatus: 'in_progress',
        })
        await untilEvent(reader, (event) => event.type === 'task.status')
        expect(envelopes(reader).at(-1)).toMatchObject({
          type: 'task.status',
          data: { taskId: task.id, title: 'First', status: 'in_progress', note: 'By hand' },
        })
        expect((await getJob(job.id)).activity).toMatchObject([
          { taskId: task.id, status: 'in_progress', note: 'By hand' },
        ])
        const unknown = await post(
          `/api/jobs/${job.id}/tasks/${randomUUID()}`,
          { status: 'completed' },
          'PUT',
        )
        expect(unknown.status).toBe(404)
      } finally {
        await reader.cancel()
      }
    })

    it('serves the polling fallback after a since cursor, and says when the job has ended', async () => {
      const job = await createJob(['Only'])
      const taskId = job.tasks[0]?.id ?? ''
      expect((await hook(job.id, { taskId, status: 'in_progress', note: 'one' })).status).toBe(202)
      const first = (await (await fetch(`${origin}/api/jobs/${job.id}/updates`)).json()) as {
        events: Envelope[]
        lastEventId: string
        ended: boolean
      }
      expect(first.events.map((e) => e.type)).toEqual(['task.created', 'task.status'])
      expect(first.ended).toBe(false)
      expect(first.lastEventId).toBe(first.events[1]?.id)

      expect((await hook(job.id, { taskId, status: 'completed', note: 'two' })).status).toBe(202)
      const response = await fetch(
        `${origin}/api/jobs/${job.id}/updates?since=${encodeURIComponent(first.lastEventId)}`,
      )
      expect(response.status).toBe(200)
      expect(response.headers.get('cache-control')).toBe('no-store')
      const next = (await response.json()) as { events: Envelope[]; ended: boolean; lastEventId: string }
      expect(next.events.map((e) => [e.type, e.data.note])).toEqual([
        ['task.status', 'two'],
        ['run.completed', undefined],
      ])
      expect(next.ended).toBe(true)
      const after = (await (
        await fetch(`${origin}/api/jobs/${job.id}/updates?since=${encodeURIComponent(next.lastEventId)}`)
      ).json()) as { events: Envelope[] }
      expect(after.events).toEqual([])
    })

    it('ends the stream when the job completes; a reconnect gets 204 and further updates 409', async () => {
      const job = await createJob(['One', 'Two'])
      const reader = await open(job.id)
      await reader.events(1)
      for (const task of job.tasks) {
        expect((await hook(job.id, { taskId: task.id, status: 'in_progress' })).status).toBe(202)
        expect((await hook(job.id, { taskId: task.id, status: 'completed', note: 'Done' })).status).toBe(202)
      }
      const log = await reader.toEnd()
      expect(log.ended).toBe(true)
      const seen = envelopes(reader)
      expect(seen.map((e) => e.type)).toEqual([
        'stream.snapshot',
        ...Array(4).fill('task.status'),
        'run.completed',
      ])
      expect((await getJob(job.id)).status).toBe('completed')

      const lastId = seen.at(-1)?.id ?? ''
      for (const headers of [{ 'last-event-id': lastId }, {}]) {
        const again = await fetch(`${origin}/api/jobs/${job.id}/task-events`, { headers })
        expect(again.status).toBe(204)
        expect(await again.text()).toBe('')
      }
      const late = await hook(job.id, { taskId: job.tasks[0]?.id, status: 'in_progress' })
      expect(late.status).toBe(409)
      expect(((await late.json()) as { error: { code: string } }).error.code).toBe('job-ended')
    })

    it('fails the job when a task fails, and cancels one on request', async () => {
      const failing = await createJob(['Build', 'Deploy'])
      const reader = await open(failing.id)
      await reader.events(1)
      const taskId = failing.tasks[0]?.id
      expect((await hook(failing.id, { taskId, status: 'failed', note: 'Compiler crashed' })).status).toBe(
        202,
      )
      await reader.toEnd()
      expect(envelopes(reader).at(-1)).toMatchObject({
        type: 'run.failed',
        data: { error: { message: 'Build failed: Compiler crashed', code: 'task-failed' } },
      })
      expect((await getJob(failing.id)).status).toBe('failed')

      const cancelled = await createJob(['Wait'])
      const watcher = await open(cancelled.id)
      await watcher.events(1)
      const answer = await post(`/api/jobs/${cancelled.id}/cancel`, {})
      expect(answer.status).toBe(202)
      await watcher.toEnd()
      expect(envelopes(watcher).at(-1)).toMatchObject({ type: 'run.cancelled' })
      expect((await getJob(cancelled.id)).status).toBe('cancelled')
      expect((await post(`/api/jobs/${cancelled.id}/cancel`, {})).status).toBe(409)
    })

    it('refuses the 101st concurrent stream with 503 and Retry-After', async () => {
      // A server of its own, so no stream of another test counts against the cap.
      const own = await serve()
      const controller = new AbortController()
      try {
        const job = (await (
          await fetch(`${own.origin}/api/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ title: 'Popular' }),
          })
        ).json()) as { jobId: string }
        const url = `${own.origin}/api/jobs/${job.jobId}/task-events`
        const admitted = await Promise.all(
          Array.from({ length: 100 }, () => fetch(url, { signal: controller.signal }).then((r) => r.status)),
        )
        expect(admitted).toEqual(Array(100).fill(200))
        const refused = await fetch(url)
        expect(refused.status).toBe(503)
        expect(refused.headers.get('retry-after')).toBe('5')
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('connection-limit')
      } finally {
        controller.abort()
        await own.close()
      }
    })

    it('runs a job with the worker: every step arrives live, and the stream ends with run.completed', async () => {
      const job = await createJob(['Fetch', 'Build'])
      const reader = await open(job.id)
      await reader.events(1)
      const report = await runWorker({ baseUrl: origin, jobId: job.id, pace: 0 })
      expect(report).toEqual({ updates: 6, retries: 0 })
      await reader.toEnd()
      expect(
        envelopes(reader).map((e) =>
          e.type === 'task.status' ? `${e.data.title}:${e.data.status}:${e.data.note}` : e.type,
        ),
      ).toEqual([
        'stream.snapshot',
        'Fetch:in_progress:Starting…',
        'Fetch:in_progress:Halfway there',
        'Fetch:completed:Done',
        'Build:in_progress:Starting…',
        'Build:in_progress:Halfway there',
        'Build:completed:Done',
        'run.completed',
      ])
    })

    it('starts a simulated worker from POST /api/jobs with simulate: true', async () => {
      const job = await createJob(['Alpha', 'Beta'], true)
      // The worker may already be done: then the stream is a 204, and the job says so.
      const response = await fetch(`${origin}/api/jobs/${job.id}/task-events`)
      if (response.status === 200) {
        const reader = readSse(response)
        await reader.toEnd()
        expect(envelopes(reader).at(-1)?.type).toBe('run.completed')
      } else {
        expect(response.status).toBe(204)
      }
      const done = await getJob(job.id)
      expect(done.status).toBe('completed')
      expect(done.activity).toHaveLength(6)
    })

    it('retries the webhook after 5xx answers and network errors, never after a 4xx', async () => {
      const job = await createJob(['Retry me'])
      const calls: string[] = []
      let failures = 0
      const flaky: typeof fetch = async (input, init) => {
        const url = String(input)
        calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`)
        if (url.includes('/agent-hooks/') && failures < 3) {
          failures++
          if (failures === 2) throw new TypeError('fetch failed') // the connection was refused
          return new Response('{"error":{"code":"internal"}}', { status: failures === 1 ? 503 : 500 })
        }
        return fetch(input, init)
      }
      const report = await runWorker({
        baseUrl: origin,
        jobId: job.id,
        pace: 0,
        fetch: flaky,
        retryDelayMs: 1,
      })
      expect(report).toEqual({ updates: 3, retries: 3 })
      expect(calls.filter((call) => call.startsWith('POST'))).toHaveLength(6)
      expect((await getJob(job.id)).status).toBe('completed')

      // Attempts are bounded.
      const down: typeof fetch = async () => new Response(null, { status: 502 })
      await expect(
        runWorker({ baseUrl: origin, jobId: job.id, fetch: down, maxAttempts: 3, retryDelayMs: 1 }),
      ).rejects.toMatchObject({
        name: 'WorkerError',
        status: 502,
        message: expect.stringContaining('gave up after 3 attempts'),
      })

      // A refused request is not sent again.
      const other = await createJob(['Refused'])
      let posts = 0
      const refusing: typeof fetch = async (input, init) => {
        if (init?.method === 'POST') {
          posts++
          return new Response('{"error":{"code":"invalid-body"}}', { status: 400 })
        }
        return fetch(input, init)
      }
      const refused = runWorker({
        baseUrl: origin,
        jobId: other.id,
        pace: 0,
        fetch: refusing,
        retryDelayMs: 1,
      })
      await expect(refused).rejects.toBeInstanceOf(WorkerError)
      await expect(refused).rejects.toMatchObject({ status: 400 })
      expect(posts).toBe(1)
      // An unknown job: the first read is a 404, and the worker stops there.
      await expect(runWorker({ baseUrl: origin, jobId: randomUUID(), pace: 0 })).rejects.toMatchObject({
        status: 404,
      })
    })

    it('runs as a script: tsx worker.ts --url … --job …', async () => {
      const job = await createJob(['Scripted'])
      const script = fileURLToPath(new URL('./worker.ts', import.meta.url))
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', script, '--url', origin, '--job', job.id, '--pace', '0'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      const [code] = (await once(child, 'exit')) as [number | null]
      expect(code, output).toBe(0)
      expect(output).toContain('done: 3 updates, 0 retries')
      expect((await getJob(job.id)).status).toBe('completed')
    })
  })
}
