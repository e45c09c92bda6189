// @vitest-environment happy-dom
import { waitFor } from '@testing-library/dom'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createJobTaskEventsApp } from './app.js'
import { DEMO_JOB_ID, DEMO_TASKS } from './db.js'
import { mountJobPanel } from './ui.js'

// One server for the file (its embedded database takes seconds to start); the tests run in order.
let served: ServedApps
let unmount: (() => void) | undefined
beforeAll(async () => {
  served = await serveApps([await createJobTaskEventsApp({ pace: 0.01 })])
  // The page's origin: the panel's relative URLs go to the server, as on the playground.
  ;(window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${served.origin}/`)
})
afterAll(() => served?.close())
afterEach(() => {
  unmount?.()
  unmount = undefined
})

function mount(): HTMLElement {
  const root = document.createElement('div')
  document.body.append(root)
  unmount = mountJobPanel(root)
  return root
}

const panel = () => document.querySelector<HTMLElement>('[data-testid="job-task-events"]')
const statuses = () =>
  [...document.querySelectorAll<HTMLElement>('[data-task-id]')].map((item) => item.dataset.status)
const dot = () => panel()?.querySelector<HTMLElement>('.tw-status')
const jobStatus = () => panel()?.querySelector<HTMLElement>('[data-testid="job-status"]')?.dataset.status

it('shows the seeded job live: a webhook post moves its task on the page', async () => {
  mount()
  await waitFor(() => expect(dot()?.dataset.status).toBe('open'))
  expect(dot()?.textContent).toBe('Live')
  expect(panel()?.dataset.jobId).toBe(DEMO_JOB_ID)
  expect(statuses()).toEqual(['pending', 'pending', 'pending', 'pending'])
  expect(jobStatus()).toBe('pending')

  const task = DEMO_TASKS[1]
  const answer = await fetch(`${served.origin}/api/agent-hooks/task-update/${DEMO_JOB_ID}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ taskId: task.id, status: 'in_progress', note: 'Sketching' }),
  })
  expect(answer.status).toBe(202)
  await waitFor(() => expect(statuses()).toEqual(['pending', 'in_progress', 'pending', 'pending']))
  const item = document.querySelector(`[data-task-id="${task.id}"]`)
  expect(item?.textContent).toContain(task.title)
  expect(item?.textContent).toContain('Sketching')
  expect(jobStatus()).toBe('in_progress')
})

it('runs a new job from the button and follows it until it completes', async () => {
  mount()
  await waitFor(() => expect(dot()?.dataset.status).toBe('open'))
  panel()?.querySelector<HTMLButtonElement>('button')?.click()
  await waitFor(() => expect(panel()?.dataset.jobId).not.toBe(DEMO_JOB_ID))
  await waitFor(() => expect(jobStatus()).toBe('completed'), { timeout: 10_000 })
  expect(statuses()).toEqual(['completed', 'completed', 'completed', 'completed'])
  expect(dot()?.dataset.status).toBe('closed')
  expect(panel()?.querySelector('[role="alert"]')?.hasAttribute('hidden')).toBe(true)
})

it('removes the panel on cleanup', async () => {
  const root = mount()
  await waitFor(() => expect(dot()?.dataset.status).toBe('open'))
  unmount?.()
  unmount = undefined
  expect(root.children).toHaveLength(0)
})
