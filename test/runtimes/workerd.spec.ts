// Workers: serveWeb inside a worker run by workerd (the runtime of Cloudflare Workers), read
// from Node. A Workers isolate keeps module state between requests, but each request's I/O
// (its response body, its timers) belongs to that request: a publish made while handling one
// request cannot write into the stream of another. So the hub that fans out lives in a
// Durable Object (one object, every request for the stream goes through it), and a hub in
// the isolate's module scope serves only what the serving request itself produces: a run
// started by the same POST, or a replay.
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runClient } from './support/client-process.js'
import { type RuntimeProcess, startProcess, waitForOutput } from './support/processes.js'
import {
  expectNoConnections,
  followScenario,
  heartbeatScenario,
  publish,
  readWholeStream,
  runScenario,
} from './support/scenario.js'
import { binary, createScratch, type Scratch } from './support/scratch.js'

let scratch: Scratch
let server: RuntimeProcess
let origin: string
const launch = (url: string, options?: Record<string, unknown>) =>
  runClient('node', scratch.dir, url, options)

beforeAll(async () => {
  scratch = createScratch(['tsx'])
  // What wrangler does: one ES module with the package and its dependencies inlined.
  await build({
    entryPoints: [join(scratch.dir, 'worker.ts')],
    outfile: join(scratch.dir, 'worker.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    logLevel: 'error',
  })
  server = startProcess(binary('workerd'), ['serve', 'worker.capnp', '--control-fd=3'], {
    cwd: scratch.dir,
    controlPipe: true,
  })
  const control = server.child.stdio[3] as Readable
  const port = await waitForOutput(server, control, /"port":(\d+)/, 30_000)
  origin = `http://127.0.0.1:${port}`
})

afterAll(async () => {
  await server?.stop()
  scratch?.remove()
})

describe('workerd, a hub in a Durable Object', () => {
  it('writes retry: and heartbeats to a plain fetch as they come', async () => {
    await heartbeatScenario(origin, 'workerd-heartbeat')
  })

  it('is followed by connect() in Node: events in order, resume after a cut, 204 at the end', async () => {
    await followScenario(origin, launch, 'workerd-follow')
  })

  it('streams a run started by a POST (startExecution) event by event', async () => {
    await runScenario(origin, launch)
  })
})

describe('workerd, a hub in the isolate (module scope)', () => {
  const solo = () => `${origin}/solo`

  it('streams a run started by a POST event by event: the run and its stream share the request', async () => {
    await runScenario(solo(), launch)
  })

  it('does not deliver live what another request publishes; a reconnect replays it', async () => {
    const stream = 'workerd-solo-live'
    const started = await publish(solo(), stream, 'run.started', {})
    const controller = new AbortController()
    const response = await fetch(`${solo()}/events/${stream}`, { signal: controller.signal })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ''
    while (!text.includes(started.id)) text += decoder.decode((await reader.read()).value, { stream: true })

    const created = await publish(solo(), stream, 'task.created', { taskId: 't1' })
    const until = Date.now() + 1000
    while (Date.now() < until) {
      const next = await Promise.race([
        reader.read(),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), until - Date.now())),
      ])
      if (next === null || next.done) break
      text += decoder.decode(next.value, { stream: true })
    }
    controller.abort()
    expect(text).toContain(': hb\n\n')
    expect(text).not.toContain(created.id)

    await publish(solo(), stream, 'run.completed', {})
    expect((await readWholeStream(`${solo()}/events/${stream}`)).slice(0, 2)).toEqual([
      started.id,
      created.id,
    ])
    await expectNoConnections(solo())
  })
})
