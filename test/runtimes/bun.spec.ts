// Bun: Bun.serve with serveWeb, read by connect() running in Bun and by connect() in Node.
import { afterAll, beforeAll, describe, it } from 'vitest'
import { type ClientRuntime, runClient } from './support/client-process.js'
import type { RuntimeProcess } from './support/processes.js'
import { startServer } from './support/processes.js'
import { followScenario, heartbeatScenario, runScenario } from './support/scenario.js'
import { binary, createScratch, type Scratch } from './support/scratch.js'

let scratch: Scratch
let server: RuntimeProcess
let origin: string

beforeAll(async () => {
  scratch = createScratch(['tsx'])
  ;({ process: server, origin } = await startServer(binary('bun'), ['bun-server.ts'], { cwd: scratch.dir }))
})

afterAll(async () => {
  await server?.stop()
  scratch?.remove()
})

describe('a Bun.serve server with serveWeb', () => {
  it('writes retry: and heartbeats to a plain fetch as they come', async () => {
    await heartbeatScenario(origin, 'bun-heartbeat')
  })

  describe.each<ClientRuntime>(['bun', 'node'])('read by connect() in %s', (runtime) => {
    const launch = (url: string, options?: Record<string, unknown>) =>
      runClient(runtime, scratch.dir, url, options)

    it('delivers events in order, resumes after a cut by Last-Event-ID, and ends with 204', async () => {
      await followScenario(origin, launch, `bun-follow-${runtime}`)
    })

    it('streams a run started by a POST (startExecution) event by event', async () => {
      await runScenario(origin, launch)
    })
  })
})
