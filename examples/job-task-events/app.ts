import type { Socket } from 'node:net'
import express, { type ErrorRequestHandler, type Response } from 'express'
import { createRedisBroker } from 'taskwire/redis'
import { createHub, pollUpdates, serveNode } from 'taskwire/server'
import * as z from 'zod'
import { type ExampleApp, type ExampleOptions, redisPrefixOf } from '../shared/example-app.js'
import { DEMO_JOB_ID, DEMO_TASKS, openDb, type Query } from './db.js'
import { runWorker } from './worker.js'

type JobStatus = 'pending' | 'in_progress' | 'completed' | 'failed' | 'cancelled'

interface JobRow {
  id: string
  title: string
  status: JobStatus
  updatedAt: Date
}

interface TaskRow {
  id: string
  title: string
  status: (typeof TASK_STATUSES)[number]
  note: string | null
  position: number
  updatedAt: Date
}

const TASK_STATUSES = ['pending', 'in_progress', 'completed', 'failed'] as const
const ENDED: ReadonlySet<JobStatus> = new Set(['completed', 'failed', 'cancelled'])
const DEFAULT_TASKS = ['Collect the requirements', 'Write the code', 'Review the changes']

const taskUpdateBody = z.object({
  status: z.enum(TASK_STATUSES),
  note: z.string().max(2000).optional(),
})
const webhookBody = taskUpdateBody.extend({ taskId: z.string().min(1).max(100) })
const newJobBody = z.object({
  title: z.string().trim().min(1).max(200),
  tasks: z.array(z.string().trim().min(1).max(200)).min(1).max(20).optional(),
  simulate: z.boolean().optional(),
})

/** The paths this app answers; everything else is left to the other apps of the server. */
const OWN_PATHS = /^\/api\/(?:jobs(?:[/?]|$)|agent-hooks\/)/
/** Postgres refuses a malformed uuid with an error: such an id names no job, so it is a 404. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * A job board fed by worker webhooks: workers post task updates, the server writes them to
 * PostgreSQL and then streams them to every viewer of the job over SSE, with a polling
 * fallback. Routes: `GET /api/jobs/:id/task-events`, `POST /api/agent-hooks/task-update/:jobId`,
 * `PUT /api/jobs/:id/tasks/:taskId`, `GET /api/jobs/:id/updates?since=`, `GET /api/jobs/:id`,
 * `POST /api/jobs` and `POST /api/jobs/:id/cancel`.
 *
 * @param options - Redis, the database, the pace of simulated workers, the log
 * @returns the app, its database seeded with the demo job
 */
export async function createJobTaskEventsApp(options: ExampleOptions = {}): Promise<ExampleApp> {
  const log = options.log ?? (() => {})
  const db = await openDb(options.databaseUrl)
  const broker = options.redisUrl
    ? await createRedisBroker({ url: options.redisUrl, prefix: redisPrefixOf(options, 'job-task-events') })
    : undefined
  const hub = createHub({
    ...(broker && { broker }),
    heartbeatMs: 30_000,
    // Past 100 open streams (over every job), the next viewer gets a 503 with Retry-After.
    maxConnections: 100,
    // The first event every viewer gets: the tasks folded so far, and the job's status.
    snapshotOnConnect: async (jobId) => ({
      jobStatus: (await findJob(db.query, jobId))?.status ?? 'pending',
    }),
    onError: (error) => log(`job-task-events: ${error.message}`),
  })

  // The demo job's tasks open its stream, so a first viewer's snapshot lists them.
  for (const task of DEMO_TASKS) {
    await hub.publish(DEMO_JOB_ID, 'task.created', { taskId: task.id, title: task.title, status: 'pending' })
  }

  // Updates of one job run one after the other, so the events go out in the order the rows
  // were written, and no update can follow the job's terminal event on the stream.
  const queues = new Map<string, Promise<unknown>>()
  const serially = <T>(jobId: string, work: () => Promise<T>): Promise<T> => {
    const next = (queues.get(jobId) ?? Promise.resolve()).then(work)
    const tail = next.catch(() => undefined)
    queues.set(jobId, tail)
    void tail.then(() => queues.get(jobId) === tail && queues.delete(jobId))
    return next
  }

  /** Writes a task's new status, an activity row and the job's status; then publishes. */
  const updateTask = (
    jobId: string,
    taskId: string,
    update: z.infer<typeof taskUpdateBody>,
  ): Promise<Answer> =>
    serially(jobId, async () => {
      const written = await db.transaction(
        async (query): Promise<Answer | { task: TaskRow; jobStatus: JobStatus }> => {
          // Locked, so concurrent updates of one job (several processes) decide its status in turn.
          const [job] = UUID.test(jobId)
            ? await query<{ status: JobStatus }>('SELECT status FROM jobs WHERE id = $1 FOR UPDATE', [jobId])
            : []
          if (!job) return notFound('job', jobId)
          if (ENDED.has(job.status)) {
            return error(409, 'job-ended', `Job ${jobId} is ${job.status}; its tasks no longer change.`)
          }
          const [task] = UUID.test(taskId)
            ? await query<TaskRow>(
                `UPDATE tasks SET status = $3, note = COALESCE($4, note), updated_at = now()
                 WHERE id = $2 AND job_id = $1
                 RETURNING id, title, status, note, position, updated_at AS "updatedAt"`,
                [jobId, taskId, update.status, update.note ?? null],
              )
            : []
          if (!task) return notFound('task', taskId)
          await query('INSERT INTO job_activity (job_id, task_id, status, note) VALUES ($1, $2, $3, $4)', [
            jobId,
            taskId,
            update.status,
            update.note ?? null,
          ])
          const tasks = await query<{ status: string }>('SELECT status FROM tasks WHERE job_id = $1', [jobId])
          const jobStatus = nextJobStatus(
            job.status,
            tasks.map((row) => row.status),
          )
          if (jobStatus !== job.status) {
            await query('UPDATE jobs SET status = $2, updated_at = now() WHERE id = $1', [jobId, jobStatus])
          }
          return { task, jobStatus }
        },
      )
      if (!('task' in written)) return written
      // Committed: whoever reacts to the event reads the new rows.
      const { task, jobStatus } = written
      await hub.publish(jobId, 'task.status', {
        taskId: task.id,
        title: task.title,
        status: task.status,
        ...(task.note !== null && { note: task.note }),
      })
      if (jobStatus === 'completed') await hub.publish(jobId, 'run.completed', { output: { jobId } })
      if (jobStatus === 'failed') {
        const message = `${task.title} failed${task.note ? `: ${task.note}` : ''}`
        await hub.publish(jobId, 'run.failed', { error: { message, code: 'task-failed' } })
      }
      log(`job ${jobId}: ${task.title} → ${task.status} (job ${jobStatus})`)
      return { status: 200, body: { task, jobStatus } }
    })

  // Simulated workers started by POST /api/jobs with `simulate: true`; stopped by close().
  const workers = new Map<AbortController, Promise<void>>()
  const startWorker = (jobId: string, baseUrl: string): void => {
    const controller = new AbortController()
    const done = runWorker({ baseUrl, jobId, pace: options.pace ?? 1, signal: controller.signal, log }).then(
      ({ updates, retries }) => log(`worker for job ${jobId}: ${updates} updates, ${retries} retries`),
      (failure: unknown) => {
        if (!controller.signal.aborted) log(`worker for job ${jobId} stopped: ${String(failure)}`)
      },
    )
    workers.set(controller, done)
    void done.finally(() => workers.delete(controller))
  }

  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)
  app.use(express.json({ limit: '16kb' }))

  // The job's task updates as SSE: a snapshot with the job's status, then `task.status`
  // events, until the job ends (`run.completed`, `run.failed`, `run.cancelled`).
  app.get('/api/jobs/:id/task-events', async (req, res) => {
    const job = await findJob(db.query, req.params.id)
    if (!job) return void send(res, notFound('job', req.params.id))
    // An ended job has nothing more to stream: 204 tells EventSource and the client to stop.
    if (ENDED.has(job.status)) return void res.status(204).set('Cache-Control', 'no-store').end()
    await serveNode(hub, req, res, { stream: job.id })
  })

  // The polling fallback: `{ events, lastEventId, ended }` after the `since` cursor.
  app.get('/api/jobs/:id/updates', async (req, res) => {
    const job = await findJob(db.query, req.params.id)
    if (!job) return void send(res, notFound('job', req.params.id))
    const answer = await pollUpdates(hub, req, { stream: job.id })
    res.status(answer.status).set(answer.headers)
    answer.body === null ? res.end() : res.send(answer.body)
  })

  // The worker's webhook: `{ taskId, status, note? }`.
  app.post('/api/agent-hooks/task-update/:jobId', async (req, res) => {
    const body = webhookBody.safeParse(req.body)
    if (!body.success) return void send(res, invalidBody(body.error))
    const { taskId, ...update } = body.data
    const result = await updateTask(req.params.jobId, taskId, update)
    send(res, result.status === 200 ? { status: 202, body: result.body } : result)
  })

  // The same update through the app's own API.
  app.put('/api/jobs/:id/tasks/:taskId', async (req, res) => {
    const body = taskUpdateBody.safeParse(req.body)
    if (!body.success) return void send(res, invalidBody(body.error))
    send(res, await updateTask(req.params.id, req.params.taskId, body.data))
  })

  // The job as stored, for a page that loads (or reloads) before it listens.
  app.get('/api/jobs/:id', async (req, res) => {
    const job = await findJob(db.query, req.params.id)
    if (!job) return void send(res, notFound('job', req.params.id))
    const tasks = await db.query<TaskRow>(
      `SELECT id, title, status, note, position, updated_at AS "updatedAt"
       FROM tasks WHERE job_id = $1 ORDER BY position`,
      [job.id],
    )
    const activity = await db.query(
      `SELECT id, task_id AS "taskId", status, note, created_at AS "createdAt"
       FROM job_activity WHERE job_id = $1 ORDER BY id DESC LIMIT 50`,
      [job.id],
    )
    res.json({ ...job, tasks, activity })
  })

  // A new job; `simulate: true` also starts a worker on it, which reports over real HTTP.
  app.post('/api/jobs', async (req, res) => {
    const body = newJobBody.safeParse(req.body)
    if (!body.success) return void send(res, invalidBody(body.error))
    const titles = body.data.tasks ?? DEFAULT_TASKS
    const { jobId, tasks } = await db.transaction(async (query) => {
      const [job] = await query<{ id: string }>('INSERT INTO jobs (title) VALUES ($1) RETURNING id', [
        body.data.title,
      ])
      if (!job) throw new Error('INSERT … RETURNING gave no row.')
      const tasks: { id: string; title: string }[] = []
      for (const [position, title] of titles.entries()) {
        const [task] = await query<{ id: string; title: string }>(
          'INSERT INTO tasks (job_id, title, position) VALUES ($1, $2, $3) RETURNING id, title',
          [job.id, title, position],
        )
        if (task) tasks.push(task)
      }
      return { jobId: job.id, tasks }
    })
    for (const task of tasks) {
      await hub.publish(jobId, 'task.created', { taskId: task.id, title: task.title, status: 'pending' })
    }
    if (body.data.simulate) startWorker(jobId, originOf(req.socket))
    res.status(201).location(`/api/jobs/${jobId}`).json({ jobId })
  })

  // Cancels a job: its viewers get `run.cancelled` and their streams end.
  app.post('/api/jobs/:id/cancel', async (req, res) => {
    const jobId = req.params.id
    const result = await serially(jobId, async () => {
      const answer = await db.transaction(async (query) => {
        const [job] = UUID.test(jobId)
          ? await query<{ status: JobStatus }>('SELECT status FROM jobs WHERE id = $1 FOR UPDATE', [jobId])
          : []
        if (!job) return notFound('job', jobId)
        if (ENDED.has(job.status)) return error(409, 'job-ended', `Job ${jobId} is already ${job.status}.`)
        await query(`UPDATE jobs SET status = 'cancelled', updated_at = now() WHERE id = $1`, [jobId])
        await query(
          `INSERT INTO job_activity (job_id, status, note) VALUES ($1, 'cancelled', 'Cancelled by a user')`,
          [jobId],
        )
        return { status: 202, body: { jobStatus: 'cancelled' } }
      })
      if (answer.status === 202) await hub.publish(jobId, 'run.cancelled', { reason: 'Cancelled by a user' })
      return answer
    })
    send(res, result)
  })

  app.use((req, res) => send(res, error(404, 'not-found', `No route ${req.method} ${req.path}.`)))
  const onError: ErrorRequestHandler = (failure: unknown, _req, res, _next) => {
    const http = failure as { status?: unknown; expose?: unknown; type?: unknown; message?: unknown }
    // The JSON parser's refusals (malformed JSON, a body over the limit): the client's fault.
    if (typeof http.status === 'number' && http.status >= 400 && http.status < 500 && http.expose === true) {
      const code =
        http.type === 'entity.parse.failed'
          ? 'invalid-json'
          : http.type === 'entity.too.large'
            ? 'body-too-large'
            : 'invalid-body'
      return void send(res, error(http.status, code, String(http.message), { issues: [] }))
    }
    log(`job-task-events: ${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}`)
    if (res.headersSent) return void res.end()
    send(res, error(500, 'internal', 'The server failed to answer; retry later.'))
  }
  app.use(onError)

  return {
    name: 'job-task-events',
    handle(req, res) {
      if (!OWN_PATHS.test(req.url ?? '')) return false
      app(req, res)
      return true
    },
    async close() {
      for (const controller of workers.keys()) controller.abort()
      await Promise.all(workers.values())
      await hub.close()
      await broker?.close()
      await db.close()
    },
  }
}

/** A job's status after one of its tasks changed: any failure fails it, all done completes it. */
function nextJobStatus(current: JobStatus, tasks: readonly string[]): JobStatus {
  if (tasks.includes('failed')) return 'failed'
  if (tasks.every((status) => status === 'completed')) return 'completed'
  if (tasks.some((status) => status !== 'pending')) return 'in_progress'
  return current
}

async function findJob(query: Query, id: string): Promise<JobRow | undefined> {
  if (!UUID.test(id)) return undefined
  const [job] = await query<JobRow>(
    'SELECT id, title, status, updated_at AS "updatedAt" FROM jobs WHERE id = $1',
    [id],
  )
  return job
}

interface Answer {
  status: number
  body: unknown
}

function send(res: Response, answer: Answer): void {
  res.status(answer.status).json(answer.body)
}

function error(status: number, code: string, message: string, extra: Record<string, unknown> = {}): Answer {
  return { status, body: { error: { code, message, ...extra } } }
}

function notFound(what: 'job' | 'task', id: string): Answer {
  return error(404, `${what}-not-found`, `No ${what} ${id}.`)
}

/** A 400 naming each invalid field, in the shape taskwire's webhook helpers use. */
function invalidBody(failure: z.ZodError): Answer {
  const issues = failure.issues.map((issue) => ({
    path: issue.path.length > 0 ? issue.path.join('.') : '(body)',
    message: issue.message,
    code: issue.code,
  }))
  return error(400, 'invalid-body', 'The body has invalid fields; see issues.', { issues })
}

/** This server's own address, as the connection reached it (never the client's Host header). */
function originOf(socket: Socket): string {
  const address = socket.localAddress ?? '127.0.0.1'
  return `http://${address.includes(':') ? `[${address}]` : address}:${socket.localPort}`
}
