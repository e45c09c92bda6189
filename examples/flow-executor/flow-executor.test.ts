import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RunState } from 'taskwire'
import { connect, createRunStore } from 'taskwire/client'
import { createHub } from 'taskwire/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deleteKeys, freshPrefix, redisAvailable, redisUrl } from '../../test/helpers/redis.js'
import { readSse, type SseLog } from '../../test/helpers/sse-reader.js'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createFlowExecutorApp } from './app.js'
import type { LegacyEvent } from './legacy-events.js'
import { legacySink } from './legacy-wire.js'

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/
const DEMO_NODES = ['Manual Trigger', 'HTTP Request', 'Gemini AI', 'Format Output']

/** POSTs an execution request as the legacy frontend does. */
function execute(origin: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${origin}/api/v1/executions/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal && { signal }),
  })
}

/** The legacy frames of a body: every `data:` payload, parsed. */
const legacyEvents = (log: SseLog): LegacyEvent[] =>
  log.events.map((event) => JSON.parse(event.data) as LegacyEvent)

/** Every line of a body that is neither blank nor a `data:` line nor a heartbeat. */
const foreignLines = (text: string): string[] =>
  text.split('\n').filter((line) => line !== '' && !line.startsWith('data: ') && line !== ': hb')

describe('flow-executor: the legacy wire', () => {
  let served: ServedApps
  beforeAll(async () => {
    served = await serveApps([await createFlowExecutorApp({ pace: 0 })])
  })
  afterAll(() => served.close())

  it('lists the seeded flows', async () => {
    const response = await fetch(`${served.origin}/api/v1/flows`)
    expect(response.status).toBe(200)
    const { flows } = (await response.json()) as {
      flows: { id: string; name: string; nodes: { id: string; name: string; type: string }[] }[]
    }
    expect(flows.map((flow) => flow.id)).toEqual(['demo', 'broken'])
    expect(flows[0]?.nodes.map((node) => node.name)).toEqual(DEMO_NODES)
  })

  it('streams a successful execution as data-only frames of exactly the legacy shape, in order', async () => {
    const response = await execute(served.origin, { flowId: 'demo', inputData: { topic: 'release' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(response.headers.get('cache-control')).toMatch(/no-cache/)
    expect(response.headers.get('x-accel-buffering')).toBe('no')
    const executionId = Number(response.headers.get('x-execution-id'))
    expect(Number.isInteger(executionId)).toBe(true)

    const log = await readSse(response).toEnd()
    expect(log.ended).toBe(true)
    // No `event:`, `id:` or `retry:` line: only what the old frontend has always parsed.
    expect(foreignLines(log.text)).toEqual([])
    expect(log.events.every((event) => event.event === undefined && event.id === undefined)).toBe(true)

    const events = legacyEvents(log)
    const finished = events.at(-1)
    expect(finished?.type).toBe('executionFinished')
    expect(finished?.data).toEqual({ finishedAt: expect.stringMatching(ISO_TIME) })
    expect(events.slice(0, -1)).toEqual([
      { type: 'executionStarted', data: { executionId, mode: 'manual' } },
      { type: 'nodeExecutionBefore', data: { executionId, nodeName: 'Manual Trigger' } },
      {
        type: 'nodeExecutionAfter',
        data: { executionId, nodeName: 'Manual Trigger', data: { topic: 'release' } },
      },
      { type: 'nodeExecutionBefore', data: { executionId, nodeName: 'HTTP Request' } },
      {
        type: 'nodeExecutionAfter',
        data: {
          executionId,
          nodeName: 'HTTP Request',
          data: {
            status: 200,
            body: { title: 'Release notes', text: 'Nodes now report their progress while they run.' },
          },
        },
      },
      { type: 'nodeExecutionBefore', data: { executionId, nodeName: 'Gemini AI' } },
      {
        type: 'nodeExecutionAfter',
        data: {
          executionId,
          nodeName: 'Gemini AI',
          data: { response: 'Hello world', model: 'gemini-2.5-flash' },
        },
      },
      { type: 'nodeExecutionBefore', data: { executionId, nodeName: 'Format Output' } },
      {
        type: 'nodeExecutionAfter',
        data: { executionId, nodeName: 'Format Output', data: { text: 'Summary: Hello world' } },
      },
    ])
    // Each frame is `{"type":...,"data":{...}}`, nothing else.
    expect(events.every((event) => Object.keys(event).join() === 'type,data')).toBe(true)
  })

  it('numbers executions one after the other', async () => {
    const first = await execute(served.origin, { flowId: 'demo' })
    const second = await execute(served.origin, { flowId: 'demo' })
    const [a, b] = await Promise.all([readSse(first).toEnd(), readSse(second).toEnd()])
    const firstId = Number(first.headers.get('x-execution-id'))
    expect(legacyEvents(a)[0]).toEqual({
      type: 'executionStarted',
      data: { executionId: firstId, mode: 'manual' },
    })
    expect(legacyEvents(b)[0]).toEqual({
      type: 'executionStarted',
      data: { executionId: firstId + 1, mode: 'manual' },
    })
  })

  it('reports a failing node with error.message and ends the execution there', async () => {
    const response = await execute(served.origin, { flowId: 'broken', inputData: {} })
    expect(response.status).toBe(200)
    const log = await readSse(response).toEnd()
    expect(foreignLines(log.text)).toEqual([])
    const events = legacyEvents(log)
    expect(
      events.map((event) => `${event.type}:${'nodeName' in event.data ? event.data.nodeName : ''}`),
    ).toEqual([
      'executionStarted:',
      'nodeExecutionBefore:Manual Trigger',
      'nodeExecutionAfter:Manual Trigger',
      'nodeExecutionBefore:HTTP Request',
      'nodeExecutionAfter:HTTP Request',
      'nodeExecutionBefore:Gemini AI',
      'nodeExecutionAfter:Gemini AI',
      'executionFinished:',
    ])
    const executionId = Number(response.headers.get('x-execution-id'))
    expect(events[6]).toEqual({
      type: 'nodeExecutionAfter',
      data: { executionId, nodeName: 'Gemini AI', error: { message: 'API key not configured' } },
    })
    expect(Object.keys(events[7]?.data ?? {})).toEqual(['finishedAt'])
  })

  it('answers a bad body with 400 and its fields, an unknown flow with 404, both as JSON', async () => {
    const missing = await execute(served.origin, { inputData: {} })
    expect(missing.status).toBe(400)
    expect(missing.headers.get('content-type')).toBe('application/json')
    const missingBody = (await missing.json()) as { error: { code: string; issues: { path: string }[] } }
    expect(missingBody.error.code).toBe('invalid-request')
    expect(missingBody.error.issues.map((issue) => issue.path)).toEqual(['flowId'])

    const wrongTypes = await execute(served.origin, { flowId: 7, inputData: 'all of it' })
    expect(wrongTypes.status).toBe(400)
    const wrongBody = (await wrongTypes.json()) as { error: { issues: { path: string }[] } }
    expect(wrongBody.error.issues.map((issue) => issue.path).sort()).toEqual(['flowId', 'inputData'])

    const notJson = await execute(served.origin, '{"flowId": "demo"')
    expect(notJson.status).toBe(400)
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid-request')

    const unknown = await execute(served.origin, { flowId: 'nope' })
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('content-type')).toBe('application/json')
    expect(await unknown.json()).toEqual({ error: { code: 'not-found', message: 'No flow nope.' } })
  })

  it('serves the same execution on the standard wire: catalog events with ids, resumable', async () => {
    const legacy = await execute(served.origin, { flowId: 'broken' })
    await readSse(legacy).toEnd()
    const url = `${served.origin}/api/v1/executions/${legacy.headers.get('x-execution-id')}/events`

    const response = await fetch(url)
    expect(response.status).toBe(200)
    const log = await readSse(response).toEnd()
    expect(log.events.map((event) => event.event)).toEqual([
      'run.started',
      'node.started',
      'node.completed',
      'node.started',
      'node.completed',
      'node.started',
      'node.failed',
      'run.failed',
    ])
    expect(log.events.every((event) => event.id !== undefined && event.id !== '')).toBe(true)
    const started = JSON.parse(log.events[0]?.data ?? '{}') as { data: { executionId: number; mode: string } }
    expect(started.data).toMatchObject({
      executionId: Number(legacy.headers.get('x-execution-id')),
      mode: 'manual',
    })

    // Resuming after the third event replays only what follows it.
    const resumed = await fetch(url, { headers: { 'Last-Event-ID': log.events[2]?.id ?? '' } })
    const rest = await readSse(resumed).toEnd()
    expect(rest.events.map((event) => event.id)).toEqual(log.events.slice(3).map((event) => event.id))
    // After the terminal event there is nothing left: 204 stops an EventSource for good.
    const after = await fetch(url, { headers: { 'Last-Event-ID': log.events.at(-1)?.id ?? '' } })
    expect(after.status).toBe(204)
  })

  it('lets a taskwire client fold the execution into node states', async () => {
    const legacy = await execute(served.origin, { flowId: 'broken' })
    await readSse(legacy).toEnd()
    const stream = connect(
      `${served.origin}/api/v1/executions/${legacy.headers.get('x-execution-id')}/events`,
    )
    const run = createRunStore(stream)
    const state = await new Promise<RunState>((resolve) => {
      stream.onStatus((status) => {
        if (status === 'closed') resolve(run.getState())
      })
    })
    stream.close()
    expect(state.status).toBe('failed')
    expect(state.nodeOrder.map((id) => `${id}:${state.nodes[id]?.status}`)).toEqual([
      'manual-trigger:completed',
      'http-request:completed',
      'gemini:failed',
      'format-output:pending',
    ])
    expect(state.nodes.gemini?.error?.message).toBe('API key not configured')
  })

  it('answers 404 for an execution that never ran', async () => {
    const response = await fetch(`${served.origin}/api/v1/executions/999999/events`)
    expect(response.status).toBe(404)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not-found')
  })
})

describe('flow-executor: streams that take time', () => {
  let served: ServedApps
  beforeAll(async () => {
    // The demo flow takes 2.5 s at pace 1: about 250 ms here, with a heartbeat every 10 ms.
    served = await serveApps([await createFlowExecutorApp({ pace: 0.1, heartbeatMs: 10 })])
  })
  afterAll(() => served.close())

  it('passes the heartbeat comments through to the legacy stream', async () => {
    const log = await readSse(await execute(served.origin, { flowId: 'demo' })).toEnd()
    expect(log.text).toContain('\n\n: hb\n\n')
    expect(log.items.some((item) => item.kind === 'comment' && item.value === 'hb')).toBe(true)
    expect(foreignLines(log.text)).toEqual([])
    expect(legacyEvents(log).at(-1)?.type).toBe('executionFinished')
  })

  it('keeps running an execution whose client left mid-run', async () => {
    const leave = new AbortController()
    const response = await execute(served.origin, { flowId: 'demo' }, leave.signal)
    const reader = readSse(response)
    await reader.until((log) => log.events.length >= 2) // executionStarted, then the first node
    leave.abort()
    await expect(reader.toEnd()).rejects.toThrow()

    const events = await fetch(
      `${served.origin}/api/v1/executions/${response.headers.get('x-execution-id')}/events`,
    )
    const log = await readSse(events).toEnd()
    expect(log.events.filter((event) => event.event === 'node.completed')).toHaveLength(DEMO_NODES.length)
    expect(log.events.at(-1)?.event).toBe('run.completed')
  })
})

describe('flow-executor: the legacy sink', () => {
  it('is cut like any subscriber once its response holds more than the high-water mark', async () => {
    const hub = createHub({ highWaterMarkBytes: 64 * 1024, heartbeatMs: false })
    const server = createServer(async (_req, res) => {
      const subscription = await hub.subscribe('slow', { framing: 'data-only' })
      res.once('close', () => subscription?.close())
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.flushHeaders()
      subscription?.start(legacySink(res, 1, hub.catalog))
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as AddressInfo
      const response = await fetch(`http://127.0.0.1:${port}/`)
      expect(response.status).toBe(200)
      await hub.publish('slow', 'run.started', { executionId: 1 })
      // The client reads nothing; the socket's buffers fill, then the response's.
      const output = 'x'.repeat(20_000)
      for (let i = 0; i < 5000 && hub.stats().connections > 0; i++) {
        await hub.publish('slow', 'node.completed', { nodeId: `n${i}`, output })
      }
      expect(hub.stats().connections).toBe(0)
      // The connection was cut, not ended: the client sees a network error, not a clean end.
      await expect(readSse(response).toEnd()).rejects.toThrow()
    } finally {
      server.closeAllConnections()
      server.close()
      await hub.close()
    }
  })
})

describe.skipIf(!redisAvailable)('flow-executor: two processes on one Redis', () => {
  const redisPrefix = freshPrefix('flow-executor')
  let a: ServedApps
  let b: ServedApps
  beforeAll(async () => {
    a = await serveApps([await createFlowExecutorApp({ pace: 0, redisUrl, redisPrefix })])
    b = await serveApps([await createFlowExecutorApp({ pace: 0, redisUrl, redisPrefix })])
  })
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()])
    await deleteKeys(redisPrefix)
  })

  it('numbers executions from one sequence and serves each one from either process', async () => {
    const onA = await execute(a.origin, { flowId: 'demo' })
    const onB = await execute(b.origin, { flowId: 'broken' })
    const [legacyA, legacyB] = await Promise.all([readSse(onA).toEnd(), readSse(onB).toEnd()])
    const idA = Number(onA.headers.get('x-execution-id'))
    const idB = Number(onB.headers.get('x-execution-id'))
    expect(new Set([idA, idB]).size).toBe(2)
    expect(legacyEvents(legacyA).at(-1)?.type).toBe('executionFinished')
    expect(legacyEvents(legacyB).at(-1)?.type).toBe('executionFinished')

    // The execution process A ran, replayed by process B from the shared log.
    const replay = await readSse(await fetch(`${b.origin}/api/v1/executions/${idA}/events`)).toEnd()
    expect(replay.events.map((event) => event.event)).toEqual([
      'run.started',
      ...DEMO_NODES.flatMap(() => ['node.started', 'node.completed']),
      'run.completed',
    ])
  })
})
