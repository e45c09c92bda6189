import express from 'express'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TaskwireError } from '../../src/core/index.js'
import { createHub } from '../../src/server/hub.js'
import type { HubOptions } from '../../src/server/hub-options.js'
import { pollUpdates, servePoll } from '../../src/server/serve-poll.js'
import type { Hub } from '../../src/server/types.js'
import { startServer, type TestServer } from '../helpers/http-server.js'
import { idOf, seq } from './ids.js'

const hubs: Hub[] = []
let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
  for (const hub of hubs.splice(0)) await hub.close()
})

function hub(options: HubOptions = {}): Hub {
  const created = createHub({ heartbeatMs: false, ...options })
  hubs.push(created)
  return created
}

async function publishTasks(target: Hub, stream: string, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) await target.publish(stream, 'task.created', { taskId: `t${i}` })
}

const get = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://app.test${path}`, { headers })

describe('servePoll', () => {
  it('answers the events after ?since= with the next cursor, as uncached JSON', async () => {
    const h = hub()
    await publishTasks(h, 'job-1', 3)
    const since = await idOf(h, 'job-1', 1)
    const response = await servePoll(h, get(`/api/jobs/job-1/updates?since=${since}`), { stream: 'job-1' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = await response.json()
    expect(body.events.map((e: { id: string; type: string }) => [seq(e.id), e.type])).toEqual([
      ['2', 'task.created'],
      ['3', 'task.created'],
    ])
    expect(body).toMatchObject({ lastEventId: await idOf(h, 'job-1', 3), ended: false })
    expect(body.reset).toBeUndefined()
  })

  it('keeps the cursor when nothing is new, and reads Last-Event-ID when there is no ?since=', async () => {
    const h = hub()
    await publishTasks(h, 'job-2', 2)
    const [one, two] = [await idOf(h, 'job-2', 1), await idOf(h, 'job-2', 2)]
    const idle = await (await servePoll(h, get(`/u?since=${two}`), { stream: 'job-2' })).json()
    expect(idle).toEqual({ events: [], lastEventId: two, ended: false })
    const viaHeader = await (
      await servePoll(h, get('/u', { 'Last-Event-ID': one }), { stream: 'job-2' })
    ).json()
    expect(viaHeader.events.map((e: { id: string }) => e.id)).toEqual([two])
    const viaOption = await (
      await servePoll(h, get(`/u?since=${two}`), { stream: 'job-2', since: null })
    ).json()
    expect(viaOption.events.map((e: { id: string }) => e.id)).toEqual([one, two])
  })

  it('says ended once the run reached a terminal event', async () => {
    const h = hub()
    const started = await h.publish('job-3', 'run.started', {})
    const completed = await h.publish('job-3', 'run.completed', {})
    const body = await (await servePoll(h, get(`/u?since=${started.id}`), { stream: 'job-3' })).json()
    expect(body).toMatchObject({ lastEventId: completed.id, ended: true })
    expect(body.events.map((e: { type: string }) => e.type)).toEqual(['run.completed'])
  })

  it('sends the whole state as reset, and no events, when the cursor fell out of the replay log', async () => {
    const h = hub({ replay: { maxEvents: 2 } })
    await publishTasks(h, 'job-4', 5)
    const body = await (
      await servePoll(h, get(`/u?since=${await idOf(h, 'job-4', 1)}`), { stream: 'job-4' })
    ).json()
    expect(body.events).toEqual([])
    expect(body.lastEventId).toBe(await idOf(h, 'job-4', 5))
    expect(body.reset.lastEventId).toBe(body.lastEventId)
    expect(body.reset.tasks.map((task: { id: string }) => task.id)).toEqual(['t1', 't2', 't3', 't4', 't5'])
  })

  it('answers authorize refusals before reading the stream', async () => {
    const h = hub()
    const read = vi.spyOn(h, 'read')
    const response = await servePoll(h, get('/u'), { stream: 'job-5', authorize: () => ({ status: 401 }) })
    expect(response.status).toBe(401)
    expect((await response.json()).error.code).toBe('unauthorized')
    expect(read).not.toHaveBeenCalled()
  })

  it('answers 500 and reports through onError when the broker cannot be read', async () => {
    const h = hub()
    const failure = new TaskwireError('broker', 'Redis is unreachable.')
    vi.spyOn(h, 'read').mockRejectedValue(failure)
    const onError = vi.fn()
    const response = await servePoll(h, get('/u'), { stream: 'job-6', onError })
    expect(response.status).toBe(500)
    expect(onError).toHaveBeenCalledWith(failure)
  })
})

describe('pollUpdates', () => {
  it('serves polling from Express by sending the answer it returns', async () => {
    const h = hub()
    await publishTasks(h, 'job-7', 3)
    const app = express()
    app.get('/api/jobs/:id/updates', async (req, res) => {
      const answer = await pollUpdates(h, req, { stream: req.params.id })
      res.status(answer.status).set(answer.headers).send(answer.body)
    })
    server = await startServer(app)
    const response = await fetch(`${server.url}/api/jobs/job-7/updates`)
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-store')
    const first = await response.json()
    expect(first.events).toHaveLength(3)
    await h.publish('job-7', 'task.status', { taskId: 't1', status: 'completed' })
    const next = await (await fetch(`${server.url}/api/jobs/job-7/updates?since=${first.lastEventId}`)).json()
    expect(next.events.map((e: { type: string }) => e.type)).toEqual(['task.status'])
    expect(next.lastEventId).toBe(next.events[0].id)
  })
})
