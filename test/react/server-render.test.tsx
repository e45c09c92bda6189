import { renderToString } from 'react-dom/server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runRef } from '../../src/client/shared-run.js'
import { useConnectionStatus, useEvent, useExecution, useRun } from '../../src/react/index.js'
import { type RunApp, startRunApp } from './run-app.js'

function Page({ url, executeUrl, fetchSpy }: { url: string; executeUrl: string; fetchSpy: typeof fetch }) {
  const run = useRun(url, { fetch: fetchSpy })
  const tasks = useRun(url, { fetch: fetchSpy, select: (state) => state.tasks.length })
  const connection = useConnectionStatus(url, { fetch: fetchSpy })
  const execution = useExecution({ url: executeUrl, fetch: fetchSpy })
  useEvent(url, 'task.created', () => {}, { fetch: fetchSpy })
  const shown = [run.status, run.state.status, tasks.state, connection.status, execution.status]
  return <p>{[...shown, execution.executionId].map(String).join(' ')}</p>
}

function RelativePage() {
  const { status, state } = useRun('/api/runs/run-1/events')
  return <p>{`${status} ${state.tasks.length}`}</p>
}

let app: RunApp
beforeEach(async () => {
  app = await startRunApp()
})
afterEach(() => app.close())

describe('server rendering', () => {
  it('renders the initial state, idle, and opens no connection', async () => {
    await app.hub.publish('run-1', 'task.created', { taskId: 't1', title: 'Plan' })
    const url = `${app.origin}/api/runs/run-1/events`
    let fetches = 0
    // Counts any request the hooks would make, relative or absolute.
    const fetchSpy: typeof fetch = (input, init) => {
      fetches++
      return fetch(input, init)
    }
    expect(
      renderToString(<Page url={url} executeUrl={`${app.origin}/api/execute`} fetchSpy={fetchSpy} />),
    ).toBe('<p>idle idle 0 idle idle null</p>')
    // A connection started by the hooks would have called fetchSpy by the time this round trip
    // ends (the client calls fetch a microtask after the first subscriber), and reached the server.
    expect((await fetch(`${app.origin}/nothing`)).status).toBe(404)
    expect(app.server.requests.map((seen) => seen.url)).toEqual(['/nothing'])
    expect(fetches).toBe(0)
    expect(runRef(url, { fetch: fetchSpy }).find()).toBeUndefined()
  })

  it('renders a relative URL on the server, where there is no page to resolve it against', () => {
    expect(renderToString(<RelativePage />)).toBe('<p>idle 0</p>')
  })
})
