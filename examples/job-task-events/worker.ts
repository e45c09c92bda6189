/**
 * A worker that executes a job's tasks and reports each step to the server's webhook, the
 * way a real worker (an agent, a CI runner, a background job) would:
 *
 *   tsx examples/job-task-events/worker.ts --url http://127.0.0.1:3000 --job <job id> [--pace 1]
 *
 * It needs nothing from taskwire: a worker only speaks HTTP.
 */
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  /** The server's origin, `http://127.0.0.1:3000`. */
  baseUrl: string
  /** The job whose tasks to work through. */
  jobId: string
  /** Scales the simulated work (1 = about a second per step, 0 = no pauses). */
  pace?: number | undefined
  /** The fetch to use (a test passes one that fails on purpose). */
  fetch?: typeof globalThis.fetch | undefined
  /** Attempts per request before giving up on a 5xx or a network error. */
  maxAttempts?: number | undefined
  /** The first retry's delay; each next one doubles, with jitter. */
  retryDelayMs?: number | undefined
  /** Stops the worker between steps (a server shutting down). */
  signal?: AbortSignal | undefined
  /** Where the worker says what it does. */
  log?: ((line: string) => void) | undefined
}

/** What a finished worker did. */
export interface WorkerReport {
  /** Updates the webhook accepted. */
  updates: number
  /** Requests sent again after a 5xx or a network error. */
  retries: number
}

/** A request the server refused (4xx), or one that kept failing until the attempts ran out. */
export class WorkerError extends Error {
  constructor(
    message: string,
    /** The last HTTP status, or undefined when the server could not be reached. */
    readonly status: number | undefined,
  ) {
    super(message)
    this.name = 'WorkerError'
  }
}

interface JobTask {
  id: string
  title: string
  status: string
}

/**
 * Works through a job: for each task not yet completed it posts `in_progress` with notes
 * as it goes, then `completed`. A 5xx or a network error is retried with exponential
 * backoff, up to `maxAttempts`; a 4xx is not (the same request would be refused again) and
 * stops the worker with a {@link WorkerError}.
 *
 * @param options - the server, the job, the pace and the retry policy
 * @returns how many updates were accepted and how many requests were retried
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerReport> {
  const { baseUrl, jobId, signal } = options
  const pace = options.pace ?? 1
  const doFetch = options.fetch ?? globalThis.fetch
  const maxAttempts = options.maxAttempts ?? 5
  const retryDelayMs = options.retryDelayMs ?? 500
  const log = options.log ?? (() => {})
  const report: WorkerReport = { updates: 0, retries: 0 }

  /** Sends one request, retrying what may succeed later; resolves with the successful answer. */
  const send = async (what: string, url: string, init: RequestInit = {}): Promise<Response> => {
    for (let attempt = 1; ; attempt++) {
      let failure: string
      let status: number | undefined
      try {
        const response = await doFetch(url, { ...init, ...(signal && { signal }) })
        if (response.ok) return response
        status = response.status
        failure = `${what}: HTTP ${status} ${await response.text().catch(() => '')}`.trim()
        if (status < 500) throw new WorkerError(failure, status)
      } catch (error) {
        if (error instanceof WorkerError || signal?.aborted) throw error
        failure = `${what}: ${error instanceof Error ? error.message : String(error)}`
      }
      if (attempt >= maxAttempts)
        throw new WorkerError(`${failure} (gave up after ${attempt} attempts)`, status)
      const delay = retryDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2)
      log(`${failure}; retrying in ${Math.round(delay)} ms`)
      report.retries++
      await pause(delay, signal)
    }
  }

  const post = async (task: JobTask, status: 'in_progress' | 'completed', note: string): Promise<void> => {
    await send(
      `${task.title} → ${status}`,
      `${baseUrl}/api/agent-hooks/task-update/${encodeURIComponent(jobId)}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ taskId: task.id, status, note }),
      },
    )
    report.updates++
    log(`${task.title}: ${status} (${note})`)
  }

  const answer = await send('read the job', `${baseUrl}/api/jobs/${encodeURIComponent(jobId)}`)
  const job = (await answer.json()) as { tasks: JobTask[] }
  for (const task of job.tasks) {
    if (task.status === 'completed') continue
    await post(task, 'in_progress', 'Starting…')
    await pause(600 * pace, signal)
    await post(task, 'in_progress', 'Halfway there')
    await pause(600 * pace, signal)
    await post(task, 'completed', 'Done')
  }
  return report
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

// Run as a script: `tsx worker.ts --url ... --job ...`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:3000' },
      job: { type: 'string' },
      pace: { type: 'string', default: '1' },
    },
  })
  const pace = Number(values.pace)
  if (!values.job || !(pace >= 0)) {
    console.error(
      'usage: tsx examples/job-task-events/worker.ts --url http://127.0.0.1:3000 --job <job id> [--pace 1]',
    )
    process.exit(2)
  }
  runWorker({ baseUrl: values.url, jobId: values.job, pace, log: console.log }).then(
    ({ updates, retries }) => console.log(`done: ${updates} updates, ${retries} retries`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error)
      process.exitCode = 1
    },
  )
}
