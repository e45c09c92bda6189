import { setupServer } from 'msw/node'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { connect } from '../../src/client/index.js'
import { isTaskwireError } from '../../src/core/index.js'
import { bufferingProxy, sseHandler } from '../../src/msw/index.js'

const server = setupServer()
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterAll(() => server.close())

it('reports a proxy that holds the stream until the run ends', async () => {
  vi.useFakeTimers()
  server.use(
    sseHandler(
      'GET',
      'https://api.example.com/jobs/:id/events',
      bufferingProxy(async (_info, stream) => {
        await stream.send('run.started', {})
        await stream.wait(20_000) // the run works; the proxy passes nothing on
        await stream.send('task.created', { taskId: 'build', title: 'Build' })
        await stream.send('run.completed', {})
        await stream.close() // the proxy lets everything through at once
      }),
    ),
  )
  const codes: string[] = []
  const job = connect('https://api.example.com/jobs/job-7/events', {
    onError: (error) => void (isTaskwireError(error) && codes.push(error.code)),
  })
  job.onStatus(() => {})

  await vi.advanceTimersByTimeAsync(20_000)
  await vi.waitFor(() => expect(job.status).toBe('closed'))
  expect(codes).toContain('stream-buffered')
  vi.useRealTimers()
})
