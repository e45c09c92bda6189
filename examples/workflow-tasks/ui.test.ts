// @vitest-environment happy-dom
import { fireEvent, render, screen, waitFor } from '@testing-library/react'
import { createElement } from 'react'
import { afterEach, expect, it } from 'vitest'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createWorkflowTasksApp } from './app.js'
import { WorkflowTasksPanel } from './ui.js'

let served: ServedApps | undefined
afterEach(async () => {
  if (!served) return
  // Cut the page's stream before the hub closes, as in workflow-tasks.test.ts.
  served.server.closeAllConnections()
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve))
  await served.close()
})

/** The tasks as the page shows them, top to bottom: `id=status`. */
function shownTasks(container: HTMLElement): string[] {
  return [...container.querySelectorAll('[data-task-id]')].map(
    (item) => `${item.getAttribute('data-task-id')}=${item.getAttribute('data-status')}`,
  )
}

it('shows the live list newest first, writes through the routes, and toasts each change', async () => {
  served = await serveApps([await createWorkflowTasksApp({ pace: 0 })])
  // The page is served by that server: its relative URLs resolve there.
  ;(window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(served.origin)
  const { container, unmount } = render(createElement(WorkflowTasksPanel))
  const dot = () => container.querySelector('.tw-status')?.getAttribute('data-status')

  await waitFor(() => expect(dot()).toBe('open'))
  expect(shownTasks(container)).toEqual([
    'review-api=pending',
    'draft-schema=in_progress',
    'collect-requirements=completed',
  ])

  fireEvent.change(screen.getByLabelText('Task title'), { target: { value: 'Ship it' } })
  fireEvent.click(screen.getByText('Add task'))
  await screen.findByText('New task: Ship it')
  const added = container.querySelector('[data-task-id]')
  expect(added?.textContent).toContain('Ship it')
  expect(added?.getAttribute('data-status')).toBe('pending')

  fireEvent.click(screen.getAllByText('Start')[0] as HTMLElement)
  await waitFor(() => expect(shownTasks(container)[0]).toMatch(/=in_progress$/))
  fireEvent.click(screen.getAllByText('Complete')[0] as HTMLElement)
  await screen.findByText('Completed: Ship it')
  expect(shownTasks(container)[0]).toMatch(/=completed$/)

  // An invalid write is an error toast naming the field; nothing changes.
  fireEvent.click(screen.getByText('Add task'))
  const error = await screen.findByText('title: Give the task a title.')
  expect(error.closest('[data-kind]')?.getAttribute('data-kind')).toBe('error')
  expect(shownTasks(container)).toHaveLength(4)

  fireEvent.click(screen.getAllByText('Delete')[0] as HTMLElement)
  await screen.findByText('Deleted: Ship it')
  expect(shownTasks(container)).toHaveLength(3)

  // Toasts go by hand or by themselves.
  const toasts = () => container.querySelectorAll('.workflow-tasks-toast').length
  const before = toasts()
  fireEvent.click(screen.getAllByLabelText('Dismiss')[0] as HTMLElement)
  expect(toasts()).toBe(before - 1)
  await waitFor(() => expect(toasts()).toBe(0), { timeout: 6000 })

  // Refresh reconnects and finds the same list.
  fireEvent.click(screen.getByText('Refresh'))
  await waitFor(() => expect(dot()).toBe('open'))
  expect(shownTasks(container)).toHaveLength(3)
  unmount()
}, 15_000)
