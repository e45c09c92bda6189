// @vitest-environment happy-dom
import { cleanup, render, screen } from '@testing-library/react'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { sseHandler } from '../../src/msw/index.js'
import { useRun } from '../../src/react/index.js'

// The component under test, as an app would have it in its own file.
function RunProgress({ runId }: { runId: string }) {
  const { state, status, error } = useRun(`/api/runs/${runId}/events`)
  const done = state.tasks.filter((task) => task.status === 'completed').length
  return (
    <section>
      <p role="status">{status}</p>
      <p>
        {done} of {state.tasks.length} tasks done
      </p>
      {error && <p role="alert">{error.code}</p>}
    </section>
  )
}

const server = setupServer()
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  cleanup()
  server.resetHandlers()
})
afterAll(() => server.close())

it('shows the progress of a run across a dropped connection', async () => {
  const events = sseHandler('GET', '/api/runs/:id/events', async (info, stream) => {
    if (info.attempt === 1) {
      await stream.send('task.created', { taskId: 'plan', title: 'Plan' })
      await stream.send('task.created', { taskId: 'build', title: 'Build' })
      await stream.send('task.completed', { taskId: 'plan' })
      return stream.drop() // the component's connection resumes after event 1-3
    }
    await stream.send('task.completed', { taskId: 'build' })
    await stream.send('run.completed', {})
  })
  server.use(events)

  render(<RunProgress runId="run-1" />)

  expect(await screen.findByText('2 of 2 tasks done', {}, { timeout: 5000 })).toBeTruthy()
  expect(screen.getByRole('status').textContent).toBe('closed')
  expect(events.lastEventIds()).toEqual([null, '1-3'])
})

it('tells the user when the server refuses the stream', async () => {
  server.use(sseHandler('GET', '/api/runs/:id/events', (_info, stream) => stream.respond(401)))
  // The client also reports the refusal to console.error unless given an onError.
  const logged = vi.spyOn(console, 'error').mockImplementation(() => {})

  render(<RunProgress runId="run-2" />)

  expect((await screen.findByRole('alert', {}, { timeout: 5000 })).textContent).toBe('unauthorized')
  expect(logged).toHaveBeenCalled()
})
