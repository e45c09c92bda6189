import { once } from 'node:events'
import { get, type IncomingMessage, request, type ServerResponse } from 'node:http'
import { createGzip } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { connect, pollingTransport, TaskwireError } from '../../src/client/index.js'
import { createHub } from '../../src/server/hub.js'
import { serveNode } from '../../src/server/serve-node.js'
import type { Hub } from '../../src/server/types.js'
import { until } from '../client/until.js'
import { startServer } from '../helpers/http-server.js'

const closers: (() => unknown)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = await startServer(handler)
  closers.push(() => server.close())
  return server.url
}

function hubFor(errors: TaskwireError[], heartbeatMs = 40): Hub {
  const hub = createHub({ heartbeatMs, retryMs: 20, onError: (error) => errors.push(error) })
  closers.push(() => hub.close())
  return hub
}

/** Waits for a condition, polling, for at most `ms`. */
async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached in ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * What a compression middleware that ignores `no-transform` and never flushes does: every
 * write goes into a gzip stream, which keeps small writes until it fills a block.
 */
function gzipWithoutFlush(res: ServerResponse): void {
  const gzip = createGzip()
  const write = res.write.bind(res) as (chunk: Buffer) => boolean
  const end = res.end.bind(res) as () => ServerResponse
  gzip.on('data', (chunk: Buffer) => write(chunk))
  gzip.on('end', () => end())
  res.setHeader('content-encoding', 'gzip')
  Object.assign(res, {
    write: (chunk: string) => gzip.write(chunk),
    end: () => {
      gzip.end()
      return res
    },
  })
}

/** Opens a raw stream and counts the bytes that reach the client. */
async function readRaw(url: string): Promise<{ bytes: () => number; response: IncomingMessage }> {
  const req = get(url)
  closers.push(() => req.destroy())
  const [response] = (await once(req, 'response')) as [IncomingMessage]
  let bytes = 0
  response.on('data', (chunk: Buffer) => {
    bytes += chunk.length
  })
  return { bytes: () => bytes, response }
}

describe('response-buffered: the server notices a response held before its socket', () => {
  it('reports it once per hub, through onError, when a wrapper holds every write', async () => {
    const errors: TaskwireError[] = []
    const hub = hubFor(errors)
    const origin = await listen((req, res) => {
      gzipWithoutFlush(res)
      void serveNode(hub, req, res, { stream: req.url?.slice(1) ?? '' })
    })
    const first = await readRaw(`${origin}/job-1`)
    const second = await readRaw(`${origin}/job-2`)
    await hub.publish('job-1', 'task.created', { taskId: 't1', title: 'held' })
    await waitFor(() => errors.length > 0)
    // Several more heartbeats on both streams: still one report.
    await sleep(200)
    expect(errors.map((error) => error.code)).toEqual(['response-buffered'])
    expect(errors[0]?.message).toMatch(/"job-[12]".*compression middleware/)
    // What the clients saw meanwhile: the headers and gzip's 10-byte header, not one byte
    // of the stream.
    expect(first.response.headers['content-type']).toMatch(/^text\/event-stream/)
    expect([first.bytes(), second.bytes()]).toEqual([10, 10])
  })

  it('stays quiet for direct responses, and for a client that reads nothing', async () => {
    const errors: TaskwireError[] = []
    const hub = hubFor(errors)
    const origin = await listen((req, res) => void serveNode(hub, req, res, { stream: 'job-1' }))
    const reading = await readRaw(origin)
    const stalled = await readRaw(origin)
    stalled.response.pause()
    // A client that reads nothing while events pile up fills its socket's buffers; what
    // reached the socket still counts as delivered.
    for (let i = 0; i < 20; i++) {
      await hub.publish('job-1', 'task.progress', { taskId: 't1', note: 'x'.repeat(2000) })
      await sleep(15)
    }
    expect(reading.bytes()).toBeGreaterThan(40_000)
    expect(errors).toEqual([])
  })
})

/**
 * A proxy that buffers responses as nginx does with `proxy_buffering on` for a response that
 * fits its buffers: the status and headers go out at once, the body when the upstream ends.
 */
async function bufferingProxy(upstream: string): Promise<string> {
  return listen((req, res) => {
    const forward = request(
      `${upstream}${req.url}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        res.flushHeaders()
        const chunks: Buffer[] = []
        answer.on('data', (chunk: Buffer) => chunks.push(chunk))
        answer.on('end', () => res.end(Buffer.concat(chunks)))
      },
    )
    req.pipe(forward)
  })
}

describe('stream-buffered: the client notices a stream that arrives whole at its end', () => {
  /** Publishes a run slowly, one event every 400 ms, once the client is subscribed. */
  async function slowRun(hub: Hub): Promise<void> {
    await waitFor(() => hub.stats().connections > 0)
    await hub.publish('run-1', 'run.started', { executionId: 'run-1' })
    for (const role of ['planner', 'writer']) {
      await sleep(400)
      await hub.publish('run-1', 'agent.started', { role })
    }
    await sleep(400)
    await hub.publish('run-1', 'run.completed', {})
  }

  it('reports it through onError when a buffering proxy holds a hub stream, and still delivers it', async () => {
    const hub = hubFor([], 15_000)
    const origin = await listen((req, res) => void serveNode(hub, req, res, { stream: 'run-1' }))
    const errors: unknown[] = []
    const stream = connect(await bufferingProxy(origin), { onError: (error) => errors.push(error) })
    const types: string[] = []
    stream.on('*', (event) => types.push(event.type))
    closers.push(() => stream.close())
    await slowRun(hub)
    await until(stream, (s) => s.status === 'closed')
    expect(types).toEqual(['run.started', 'agent.started', 'agent.started', 'run.completed'])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(TaskwireError)
    expect(errors[0]).toMatchObject({ code: 'stream-buffered' })
    expect((errors[0] as Error).message).toMatch(/^4 events came at once as the response ended/)
  })

  it('says nothing when the same run reaches the client event by event', async () => {
    const hub = hubFor([], 15_000)
    const origin = await listen((req, res) => void serveNode(hub, req, res, { stream: 'run-1' }))
    const errors: unknown[] = []
    const stream = connect(origin, { onError: (error) => errors.push(error) })
    const types: string[] = []
    stream.on('*', (event) => types.push(event.type))
    closers.push(() => stream.close())
    await slowRun(hub)
    await until(stream, (s) => s.status === 'closed')
    expect(types).toHaveLength(4)
    expect(errors).toEqual([])
  })

  it('says nothing when a run stays silent, then ends in a burst: the hub wrote retry: at once', async () => {
    const hub = hubFor([], 15_000)
    const origin = await listen((req, res) => void serveNode(hub, req, res, { stream: 'run-1' }))
    const errors: unknown[] = []
    const stream = connect(origin, { onError: (error) => errors.push(error) })
    closers.push(() => stream.close())
    stream.subscribe(() => {})
    await waitFor(() => hub.stats().connections > 0)
    await sleep(1200)
    await Promise.all([
      hub.publish('run-1', 'run.started', {}),
      hub.publish('run-1', 'agent.started', { role: 'a' }),
      hub.publish('run-1', 'run.completed', {}),
    ])
    await until(stream, (s) => s.status === 'closed')
    expect(errors).toEqual([])
  })

  it('switches to bufferedFallback after a second buffered response, and resumes from its cursor', async () => {
    const envelope = (id: number) =>
      JSON.stringify({
        type: 'task.progress',
        stream: 'job-1',
        id: String(id),
        ts: new Date(0).toISOString(),
        data: {},
      })
    const requests: {
      accept: string | undefined
      lastEventId: string | undefined
      url: string | undefined
    }[] = []
    const origin = await listen((req, res) => {
      requests.push({
        accept: req.headers.accept,
        lastEventId: req.headers['last-event-id'] as string,
        url: req.url,
      })
      if (req.headers.accept === 'application/json') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ events: [JSON.parse(envelope(5))], lastEventId: '5', ended: true }))
        return
      }
      // A stream held by something on the way: headers now, its events only at its end.
      const after = Number(req.headers['last-event-id'] ?? 0)
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.flushHeaders()
      setTimeout(() => {
        res.end(
          `id: ${after + 1}\ndata: ${envelope(after + 1)}\n\nid: ${after + 2}\ndata: ${envelope(after + 2)}\n\n`,
        )
      }, 1100)
    })
    const errors: unknown[] = []
    const stream = connect(`${origin}/jobs/1`, {
      closeOn: false,
      bufferedFallback: pollingTransport,
      backoff: { initialMs: 10, maxMs: 20 },
      onError: (error) => errors.push(error),
    })
    const ids: string[] = []
    stream.on('*', (event) => ids.push(event.id))
    closers.push(() => stream.close())
    await until(stream, (s) => s.status === 'closed', 10_000)
    expect(ids).toEqual(['1', '2', '3', '4', '5'])
    expect(errors.map((error) => (error as TaskwireError).code)).toEqual([
      'stream-buffered',
      'stream-buffered',
    ])
    expect(requests).toEqual([
      { accept: 'text/event-stream', lastEventId: undefined, url: '/jobs/1' },
      { accept: 'text/event-stream', lastEventId: '2', url: '/jobs/1' },
      { accept: 'application/json', lastEventId: undefined, url: '/jobs/1?since=4' },
    ])
  })

  it('refuses a bufferedFallback that is not a transport, at connect', () => {
    expect(() => connect('http://127.0.0.1:1/x', { bufferedFallback: 'polling' as never })).toThrow(
      /bufferedFallback must be a taskwire\/client transport/,
    )
  })
})
