// @vitest-environment happy-dom
import { act, render, screen, waitFor } from '@testing-library/react'
import { StrictMode } from 'react'
import { describe, expect, it } from 'vitest'
import { useExecution } from '../../src/react/index.js'
import { appPerTest } from './run-app.js'

const app = appPerTest()

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

function Runner({ cancelUrl = true }: { cancelUrl?: boolean }) {
  const { start, cancel, state, status, executionId } = useExecution({
    url: '/api/execute',
    headers: { 'content-type': 'application/json' },
    backoff: { initialMs: 1, maxMs: 1 },
    ...(cancelUrl && { cancelUrl: (id: string) => `/api/executions/${id}` }),
  })
  return (
    <>
      <button type="button" onClick={() => start(JSON.stringify({ task: 'Add a dark mode toggle' }))}>
        start
      </button>
      <button type="button" onClick={() => void cancel()}>
        cancel
      </button>
      <p data-testid="run">{`${status}:${state.status}:${state.tasks.length}:${executionId ?? '-'}`}</p>
    </>
  )
}

const shown = () => screen.getByTestId('run').textContent
/** The execution id the server sent for the n-th start. */
const sentId = (n: number) => String(app().starts()[n]?.res.getHeader('x-execution-id'))

describe('useExecution', () => {
  it('starts exactly one run for one click under StrictMode, and none while rendering', async () => {
    render(
      <StrictMode>
        <Runner />
      </StrictMode>,
    )
    expect(shown()).toBe('idle:idle:0:-')
    act(() => screen.getByText('start').click())
    await waitFor(() => expect(shown()).toBe(`open:running:1:${sentId(0)}`))
    app().finishRuns()
    await waitFor(() => expect(shown()).toBe(`closed:completed:1:${sentId(0)}`))

    expect(app().starts()).toHaveLength(1)
    expect(app().runs()).toBe(1)
    const [post] = app().starts()
    expect(post?.headers['idempotency-key']).toMatch(UUID)
    expect(post?.headers['content-type']).toBe('application/json')
  })

  it('reconnects to the same run with the same key after a drop, resuming after the last event', async () => {
    render(
      <StrictMode>
        <Runner />
      </StrictMode>,
    )
    act(() => screen.getByText('start').click())
    await waitFor(() => expect(shown()).toBe(`open:running:1:${sentId(0)}`))
    app().server.dropConnections((seen) => seen.method === 'POST')
    await waitFor(() => expect(app().starts()).toHaveLength(2))
    await waitFor(() => expect(shown()).toBe(`open:running:1:${sentId(0)}`))
    app().finishRuns()
    await waitFor(() => expect(shown()).toBe(`closed:completed:1:${sentId(0)}`))

    const [first, second] = app().starts()
    expect(second?.headers['idempotency-key']).toBe(first?.headers['idempotency-key'])
    expect(second?.headers['last-event-id']).toBeTruthy()
    expect(sentId(1)).toBe(sentId(0))
    expect(app().runs()).toBe(1)
  })

  it('starts a new run with a new key on each start(), and follows the last one', async () => {
    render(<Runner />)
    act(() => screen.getByText('start').click())
    await waitFor(() => expect(shown()).toBe(`open:running:1:${sentId(0)}`))
    act(() => screen.getByText('start').click())
    await waitFor(() => expect(shown()).toBe(`open:running:1:${sentId(1)}`))

    expect(sentId(1)).not.toBe(sentId(0))
    const keys = app()
      .starts()
      .map((seen) => seen.headers['idempotency-key'])
    expect(new Set(keys).size).toBe(2)
    expect(app().runs()).toBe(2)
  })

  it('cancels through cancelUrl: a DELETE with the execution id, and the stream ends with run.cancelled', async () => {
    render(
      <StrictMode>
        <Runner />
      </StrictMode>,
    )
    act(() => screen.getByText('start').click())
    await waitFor(() => expect(shown()).toBe(`open:running:1:${sentId(0)}`))
    act(() => screen.getByText('cancel').click())
    await waitFor(() => expect(shown()).toBe(`closed:cancelled:1:${sentId(0)}`))

    expect(
      app()
        .cancels()
        .map((seen) => seen.url),
    ).toEqual([`/api/executions/${sentId(0)}`])
    expect((await app().hub.read(sentId(0))).events.map((event) => event.type)).toEqual([
      'run.started',
      'task.created',
      'run.cancelled',
    ])
  })

  it('without cancelUrl, cancel() only closes the stream, and the run goes on', async () => {
    render(<Runner cancelUrl={false} />)
    act(() => screen.getByText('start').click())
    await waitFor(() => expect(shown()).toBe(`open:running:1:${sentId(0)}`))
    act(() => screen.getByText('cancel').click())
    await waitFor(() => expect(shown()).toBe(`closed:running:1:${sentId(0)}`))
    await app().server.whenClosed((seen) => seen.method === 'POST')

    expect(app().cancels()).toHaveLength(0)
    expect((await app().hub.read(sentId(0))).ended).toBe(false)
  })
})
