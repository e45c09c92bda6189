import type { RunState } from 'taskwire'
import {
  bindConnectionIndicator,
  type ConnectionStatus,
  createRunStore,
  type SharedRunStore,
} from 'taskwire/vanilla'
import { STATUS_LABELS } from '../shared/status-labels.js'
import './ui.css'

/** The job the server is seeded with. */
const DEMO_JOB_ID = '00000000-0000-4000-8000-000000000001'
const ENDED = new Set(['completed', 'failed', 'cancelled'])

/** A job as `GET /api/jobs/:id` returns it. */
interface Job {
  id: string
  title: string
  status: string
  tasks: { id: string; title: string; status: string; note: string | null }[]
}

/**
 * The job's status: the stream's terminal event when there was one, else the status the
 * snapshot carried (`meta.jobStatus`), moved on to `in_progress` once a task has started.
 */
function jobStatusOf(job: Job, state: RunState | undefined): string {
  if (!state) return job.status
  if (ENDED.has(state.status)) return state.status
  const known = typeof state.meta.jobStatus === 'string' ? state.meta.jobStatus : job.status
  return known === 'pending' && state.tasks.some((task) => task.status !== 'pending') ? 'in_progress' : known
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Pick<HTMLElement, 'className' | 'textContent' | 'title'>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props)
  node.append(...children)
  return node
}

/**
 * Mounts the job panel in `root`: the job loaded with `GET /api/jobs/:id`, then its task
 * updates live from `/api/jobs/:id/task-events` while the job is not over. "Run a new job"
 * creates a job worked by a simulated worker and follows it.
 *
 * @param root - the element the panel is appended to
 * @returns a function that closes the stream and removes the panel
 */
export function mountJobPanel(root: HTMLElement): () => void {
  const dot = element('span', { className: 'tw-status' }, element('span', { className: 'tw-dot' }))
  const dotLabel = element('span', { textContent: STATUS_LABELS.idle })
  dot.dataset.status = 'idle'
  dot.querySelector('.tw-dot')?.setAttribute('aria-hidden', 'true')
  dot.append(dotLabel)
  const title = element('strong')
  const badge = element('span', { className: 'tw-badge' })
  badge.dataset.testid = 'job-status'
  const list = element('ol', { className: 'job-task-events-tasks' })
  const failure = element('p', { className: 'job-task-events-error' })
  failure.setAttribute('role', 'alert')
  failure.hidden = true
  const run = element('button', { className: 'tw-button primary', textContent: 'Run a new job' })
  run.type = 'button'
  const section = element(
    'section',
    { className: 'tw-panel job-task-events' },
    element(
      'header',
      {},
      element(
        'div',
        {},
        element('h2', { textContent: 'Job tasks' }),
        element('p', {
          className: 'tw-hint',
          textContent: 'Workers post to a webhook; the page listens over SSE.',
        }),
      ),
      dot,
    ),
    element('p', { className: 'job-task-events-job' }, title, ' ', badge),
    list,
    failure,
    element('div', { className: 'job-task-events-actions' }, run),
  )
  section.dataset.testid = 'job-task-events'
  root.append(section)

  let job: Job | undefined
  let state: RunState | undefined
  let store: SharedRunStore | undefined
  let stops: (() => void)[] = []
  let following = 0 // which follow() is current, so a late answer for an older job is dropped
  let disposed = false

  const render = (): void => {
    if (!job) return
    const status = jobStatusOf(job, state)
    section.dataset.jobId = job.id
    title.textContent = job.title
    badge.textContent = status.replace('_', ' ')
    badge.dataset.status = status
    // The stored list gives the order and the titles; the stream, each task's latest status.
    const live = new Map(state?.tasks.map((task) => [task.id, task]))
    list.replaceChildren(
      ...job.tasks.map((task) => {
        const now = live.get(task.id)
        const taskStatus = now?.status ?? task.status
        const note = now?.note ?? task.note
        const taskBadge = element('span', {
          className: 'tw-badge',
          textContent: taskStatus.replace('_', ' '),
        })
        taskBadge.dataset.status = taskStatus
        const item = element(
          'li',
          {},
          taskBadge,
          ' ',
          element('span', { textContent: now?.title ?? task.title }),
          ...(note ? [element('small', { textContent: note })] : []),
        )
        item.dataset.taskId = task.id
        item.dataset.status = taskStatus
        return item
      }),
    )
  }

  const showError = (message: string | undefined): void => {
    failure.textContent = message ?? ''
    failure.hidden = message === undefined
  }

  const stopStream = (): void => {
    for (const stop of stops) stop()
    stops = []
    store?.close()
    store = undefined
    state = undefined
  }

  const setDot = (status: ConnectionStatus): void => {
    dot.dataset.status = status
    dot.title = STATUS_LABELS[status]
    dotLabel.textContent = STATUS_LABELS[status]
  }

  /** Shows a job, and listens to it while it can still change. */
  const follow = async (jobId: string): Promise<void> => {
    const turn = ++following
    stopStream()
    const response = await fetch(`/api/jobs/${encodeURIComponent(jobId)}`)
    if (!response.ok) throw new Error(`Could not load job ${jobId} (HTTP ${response.status}).`)
    const loaded = (await response.json()) as Job
    if (disposed || turn !== following) return
    job = loaded
    showError(undefined)
    render()
    if (ENDED.has(loaded.status)) return setDot('closed')
    const opened = createRunStore(`/api/jobs/${encodeURIComponent(jobId)}/task-events`)
    store = opened
    stops = [
      bindConnectionIndicator(dot, opened, { open: 'Live', closed: 'Closed' }),
      opened.subscribe((snapshot) => {
        dotLabel.textContent = STATUS_LABELS[snapshot.status]
        state = snapshot.state
        render()
      }),
    ]
  }

  run.addEventListener('click', () => {
    run.disabled = true
    const titles = ['Plan the work', 'Write the code', 'Run the tests', 'Ship it']
    fetch('/api/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        title: `Job started at ${new Date().toLocaleTimeString()}`,
        tasks: titles,
        simulate: true,
      }),
    })
      .then(async (response) => {
        if (!response.ok) throw new Error(`Could not start a job (HTTP ${response.status}).`)
        const { jobId } = (await response.json()) as { jobId: string }
        await follow(jobId)
      })
      .catch((error: unknown) => showError(error instanceof Error ? error.message : String(error)))
      .finally(() => {
        run.disabled = false
      })
  })

  follow(DEMO_JOB_ID).catch((error: unknown) =>
    showError(error instanceof Error ? error.message : String(error)),
  )

  return () => {
    disposed = true
    following++
    stopStream()
    section.remove()
  }
}
