import express from 'express'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TaskwireError } from '../../src/core/index.js'
import { createHub } from '../../src/server/hub.js'
import type { HubOptions } from '../../src/server/hub-options.js'
import { pollUpdates, servePoll } from '../../src/server/serve-poll.js'
import type { Hub } from '../../src/server/types.js'
import { startServer, type TestServer } from '../helpers/http-server.js'

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
    const response = await servePoll(h, get('/api/jobs/job-1/updates?since=1'), { stream: 'job-1' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = await response.json()
    expect(body.events.map((e: { id: string; type: string }) => [e.id, e.type])).toEqual([
      ['2', 'task.created'],
      ['3', 'task.created'],
    ])
    expect(body).toMatchObject({ lastEventId: '3', ended: false })
    expect(body.reset).toBeUndefined()
  })

  it('keeps the cursor when nothing is new, and reads Last-Event-ID when there is no ?since=', async () => {
    const h = hub()
    await publishTasks(h, 'job-2', 2)
    const idle = await (await servePoll(h, get('/u?since=2'), { stream: 'job-2' })).json()
    expect(idle).toEqual({ events: [], lastEventId: '2', ended: false })
    const viaHeader = await (
      await servePoll(h, get('/u', { 'Last-Event-ID': '1' }), { stream: 'job-2' })
    ).json()
    expect(viaHeader.events.map((e: { id: string }) => e.id)).toEqual(['2'])
    const viaOption = await (await servePoll(h, get('/u?since=2'), { stream: 'job-2', since: null })).json()
    expect(viaOption.events.map((e: { id: string }) => e.id)).toEqual(['1', '2'])
  })

  it('says ended once the run reached a terminal event', async () => {
    const h = hub()
    await h.publish('job-3', 'run.started', {})
    await h.publish('job-3', 'run.completed', {})
    const body = await (await servePoll(h, get('/u?since=1'), { stream: 'job-3' })).json()
    expect(body).toMatchObject({ lastEventId: '2', ended: true })
    expect(body.events.map((e: { type: string }) => e.type)).toEqual(['run.completed'])
  })

  it('sends the whole state as reset, and no events, when the cursor fell out of the replay log', async () => {
    const h = hub({ replay: { maxEvents: 2 } })
    await publishTasks(h, 'job-4', 5)
    const body = await (await servePoll(h, get('/u?since=1'), { stream: 'job-4' })).json()
    expect(body.events).toEqual([])
    expect(body.lastEventId).toBe('5')
    expect(body.reset.lastEventId).toBe('5')
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
  it('serves card 2 polling from Express with res.json', async () => {
    const h = hub()
    await publishTasks(h, 'job-7', 3)
    const app = express()
    app.get('/api/jobs/:id/updates', async (req, res) => {
      const since = typeof req.query.since === 'string' ? req.query.since : null
      res.set('Cache-Control', 'no-store').json(await pollUpdates(h, req.params.id, since))
    })
    server = await startServer(app)
    const first = await (await fetch(`${server.url}/api/jobs/job-7/updates`)).json()
    expect(first.events).toHaveLength(3)
    await h.publish('job-7', 'task.status', { taskId: 't1', status: 'completed' })
    const next = await (await fetch(`${server.url}/api/jobs/job-7/updates?since=${first.lastEventId}`)).json()
    expect(next.events.map((e: { id: string; type: string }) => [e.id, e.type])).toEqual([
      ['4', 'task.status'],
    ])
    expect(next.lastEventId).toBe('4')
  })
})
