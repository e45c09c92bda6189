import { afterEach, describe, expect, it } from 'vitest'
import type { ConnectionStatus } from '../../src/client/index.js'
import { type Demo, startDemo } from './demo.js'
import { simulatedRunSteps } from './simulated-run.js'

let demo: Demo | undefined

afterEach(async () => {
  await demo?.close()
  demo = undefined
})

describe('the npm start demo', () => {
  it('streams one simulated run to the in-process client, which folds it and closes', async () => {
    const types: string[] = []
    const statuses: ConnectionStatus[] = []
    demo = await startDemo({
      stepMs: 0,
      port: 0,
      onEvent: (event) => types.push(event.type),
      onStatus: (status) => statuses.push(status),
    })
    const state = await demo.finished

    // A client that connects late may get a snapshot first; after it, every event arrives.
    const afterSnapshot = types.slice(types.lastIndexOf('stream.snapshot') + 1)
    expect(afterSnapshot.length).toBeLessThanOrEqual(simulatedRunSteps + 2)
    expect(afterSnapshot.at(-1)).toBe('run.completed')
    expect(statuses.at(-1)).toBe('closed')
    expect(state.status).toBe('completed')
    expect(state.tasks.map((task) => [task.id, task.status])).toEqual([['task-1', 'completed']])
    expect(state.agentOrder).toEqual(['planner', 'coder'])
    expect(state.output).toEqual({ files: 1 })
  })

  it('starts another run on POST /runs and serves its events', async () => {
    demo = await startDemo({ stepMs: 0, port: 0, onEvent: () => {}, onStatus: () => {} })
    await demo.finished
    const started = await fetch(`${demo.origin}/runs`, { method: 'POST' })
    expect(started.status).toBe(201)
    const { events } = (await started.json()) as { events: string }
    const response = await fetch(`${demo.origin}${events}`)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    // The run ends the stream after run.completed, so the body ends by itself.
    const body = await response.text()
    expect(body).toMatch(/^event: run\.started$/m)
    expect(body).toMatch(/^event: run\.completed$/m)
  })
})
