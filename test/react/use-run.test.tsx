// @vitest-environment happy-dom
import { act, render, screen, waitFor } from '@testing-library/react'
import { StrictMode, useState } from 'react'
import { describe, expect, it } from 'vitest'
import { connect, type StreamHandle } from '../../src/client/index.js'
import type { RunState } from '../../src/core/index.js'
import { useConnectionStatus, useEvent, useRun } from '../../src/react/index.js'
import { appPerTest } from './run-app.js'

const app = appPerTest()

const URL = '/api/runs/run-1/events'

function TaskCount({ name }: { name: string }) {
  const { state, status } = useRun(URL, { select: (s: RunState) => s.tasks.length })
  return <p data-testid={name}>{`${status}:${state}`}</p>
}

function Swap() {
  const [second, setSecond] = useState(false)
  return (
    <>
      <button type="button" onClick={() => setSecond(true)}>
        swap
      </button>
      {second ? <TaskCount key="second" name="second" /> : <TaskCount key="first" name="first" />}
    </>
  )
}

/** Renders are counted per name in `renders`. */
type Renders = Record<string, number>

function Task({ id, renders }: { id: string; renders: Renders }) {
  renders[id] = (renders[id] ?? 0) + 1
  // A new selector function on every render, as people write them.
  const { state: task } = useRun(URL, { select: (s: RunState) => s.tasks.find((t) => t.id === id) })
  return <p data-testid={id}>{task ? `${task.title} ${task.percent ?? 0}%` : 'none'}</p>
}

function Everything({ renders }: { renders: Renders }) {
  renders.all = (renders.all ?? 0) + 1
  const { state } = useRun(URL)
  return <p data-testid="all">{state.tasks.map((task) => task.percent ?? 0).join(',')}</p>
}

function HandleCount({ name, handle }: { name: string; handle: StreamHandle }) {
  const { state, status } = useRun(handle, { select: (s: RunState) => s.tasks.length })
  return <p data-testid={name}>{`${status}:${state}`}</p>
}

function Nothing() {
  const { state, status } = useRun(null)
  return <p data-testid="nothing">{`${status}:${state.status}:${state.tasks.length}`}</p>
}

function Toasts({ prefix, toasts }: { prefix: string; toasts: string[] }) {
  useEvent(URL, 'task.created', (event) => toasts.push(`${prefix} ${event.data.title}`))
  const { status } = useConnectionStatus(URL)
  return <p data-testid="toasts">{status}</p>
}

const fastBackoff = { backoff: { initialMs: 1, maxMs: 1 } }

function Dot() {
  const { status, resync, reconnect } = useConnectionStatus(URL, fastBackoff)
  return (
    <button type="button" data-testid="dot" onClick={reconnect}>
      {`${status}:${resync?.kind ?? '-'}`}
    </button>
  )
}

describe('useRun', () => {
  it('shares one connection among five components under StrictMode, and the last unmount closes it', async () => {
    await app().hub.publish('run-1', 'task.created', { taskId: 't1', title: 'Plan' })
    const names = ['a', 'b', 'c', 'd', 'e']
    const view = render(
      <StrictMode>
        {names.map((name) => (
          <TaskCount key={name} name={name} />
        ))}
      </StrictMode>,
    )
    for (const name of names) await waitFor(() => expect(screen.getByTestId(name).textContent).toBe('open:1'))
    await app().hub.publish('run-1', 'task.created', { taskId: 't2', title: 'Build' })
    for (const name of names) await waitFor(() => expect(screen.getByTestId(name).textContent).toBe('open:2'))
    expect(app().streamRequests('run-1')).toHaveLength(1)

    view.unmount()
    // The client's linger (250 ms) passes, then the connection closes: the server sees it go.
    await app().server.whenClosed((seen) => seen.url.startsWith(URL))
    expect(app().streamRequests('run-1')).toHaveLength(1)
  })

  it('keeps the connection when the last component is replaced by another within the linger', async () => {
    render(<Swap />)
    await waitFor(() => expect(screen.getByTestId('first').textContent).toBe('open:0'))
    act(() => screen.getByText('swap').click())
    await waitFor(() => expect(screen.getByTestId('second').textContent).toBe('open:0'))
    await app().hub.publish('run-1', 'task.created', { taskId: 't1', title: 'Plan' })
    await waitFor(() => expect(screen.getByTestId('second').textContent).toBe('open:1'))
    expect(app().streamRequests('run-1')).toHaveLength(1)
  })

  it('re-renders a component only when its selected slice changes', async () => {
    await app().hub.publish('run-1', 'task.created', { taskId: 't1', title: 'Plan' })
    await app().hub.publish('run-1', 'task.created', { taskId: 't2', title: 'Build' })
    const renders: Renders = {}
    render(
      <>
        <Task id="t1" renders={renders} />
        <Task id="t2" renders={renders} />
        <Everything renders={renders} />
      </>,
    )
    await waitFor(() => expect(screen.getByTestId('t2').textContent).toBe('Build 0%'))
    await waitFor(() => expect(screen.getByTestId('all').textContent).toBe('0,0'))
    const before = { ...renders }

    await app().hub.publish('run-1', 'task.progress', { taskId: 't2', percent: 40 })
    await waitFor(() => expect(screen.getByTestId('t2').textContent).toBe('Build 40%'))
    await app().hub.publish('run-1', 'task.progress', { taskId: 't2', percent: 60 })
    await waitFor(() => expect(screen.getByTestId('all').textContent).toBe('0,60'))

    expect(renders.t1).toBe(before.t1)
    expect(renders.t2).toBe((before.t2 ?? 0) + 2)
    expect(renders.all).toBe((before.all ?? 0) + 2)
  })

  it('takes a handle from connect(), folds it once for every component, and leaves closing it to its owner', async () => {
    await app().hub.publish('run-1', 'task.created', { taskId: 't1', title: 'Plan' })
    const handle = connect(URL)
    const view = render(
      <StrictMode>
        <HandleCount name="a" handle={handle} />
        <HandleCount name="b" handle={handle} />
      </StrictMode>,
    )
    await waitFor(() => expect(screen.getByTestId('b').textContent).toBe('open:1'))
    expect(screen.getByTestId('a').textContent).toBe('open:1')
    expect(app().streamRequests('run-1')).toHaveLength(1)

    view.unmount()
    // Without subscribers the handle lets its connection go after the linger, and stays usable.
    await app().server.whenClosed((seen) => seen.url.startsWith(URL))
    expect(handle.status).toBe('idle')
    handle.close()
  })

  it('renders the initial state, idle, for a null source, and connects nothing', () => {
    render(<Nothing />)
    expect(screen.getByTestId('nothing').textContent).toBe('idle:idle:0')
    expect(app().server.requests).toHaveLength(0)
  })
})

describe('useEvent', () => {
  it('calls the latest handler for each event of its type, without reconnecting when it changes', async () => {
    const toasts: string[] = []
    const view = render(
      <StrictMode>
        <Toasts prefix="first" toasts={toasts} />
      </StrictMode>,
    )
    await waitFor(() => expect(screen.getByTestId('toasts').textContent).toBe('open'))
    await app().hub.publish('run-1', 'task.created', { taskId: 't1', title: 'Plan' })
    await waitFor(() => expect(toasts).toEqual(['first Plan']))

    view.rerender(
      <StrictMode>
        <Toasts prefix="second" toasts={toasts} />
      </StrictMode>,
    )
    await app().hub.publish('run-1', 'task.status', { taskId: 't1', status: 'completed' })
    await app().hub.publish('run-1', 'task.created', { taskId: 't2', title: 'Build' })
    await waitFor(() => expect(toasts).toEqual(['first Plan', 'second Build']))
    expect(app().streamRequests('run-1')).toHaveLength(1)
  })
})

describe('useConnectionStatus', () => {
  it('reconnects after a drop and on demand, resuming after the last event, and shows how it continued', async () => {
    await app().hub.publish('run-1', 'task.created', { taskId: 't1', title: 'Plan' })
    render(
      <StrictMode>
        <Dot />
      </StrictMode>,
    )
    await waitFor(() => expect(screen.getByTestId('dot').textContent).toBe('open:fresh'))
    expect(app().streamRequests('run-1')).toHaveLength(1)

    app().server.dropConnections((seen) => seen.url.startsWith(URL))
    await waitFor(() => expect(app().streamRequests('run-1')).toHaveLength(2))
    await waitFor(() => expect(screen.getByTestId('dot').textContent).toBe('open:resumed'))
    const lastId = (await app().hub.read('run-1')).events.at(-1)?.id
    expect(app().streamRequests('run-1')[1]?.headers['last-event-id']).toBe(lastId)

    // The "Refresh" button: a new connection at once, resuming after the same event.
    act(() => screen.getByTestId('dot').click())
    await waitFor(() => expect(app().streamRequests('run-1')).toHaveLength(3))
    expect(app().streamRequests('run-1')[2]?.headers['last-event-id']).toBe(lastId)
    await waitFor(() => expect(screen.getByTestId('dot').textContent).toBe('open:resumed'))
  })
})
