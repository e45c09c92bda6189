// Deno: Deno.serve with serveWeb, read by connect() running in Deno. Deno 2.9 aborts
// `request.signal` once a response has been delivered (its legacy behaviour, with a warning
// on the first request) unless run with --unstable-no-legacy-abort; serveWeb only uses the
// signal to notice a client that left, so both must serve and free connections alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runClient } from './support/client-process.js'
import { type RuntimeProcess, startServer } from './support/processes.js'
import { followScenario, heartbeatScenario, runScenario } from './support/scenario.js'
import { binary, createScratch, type Scratch } from './support/scratch.js'

let scratch: Scratch

beforeAll(() => {
  scratch = createScratch()
})

afterAll(() => scratch?.remove())

const MODES = [
  { name: 'the default (legacy) request.signal', flags: [] },
  { name: '--unstable-no-legacy-abort', flags: ['--unstable-no-legacy-abort'] },
]

describe.each(MODES)('a Deno.serve server with serveWeb, $name', ({ flags }) => {
  let server: RuntimeProcess
  let origin: string
  const launch = (url: string, options?: Record<string, unknown>) =>
    runClient('deno', scratch.dir, url, options)

  beforeAll(async () => {
    ;({ process: server, origin } = await startServer(
      binary('deno'),
      // --sloppy-imports: the fixtures import `./app.js` for `./app.ts`, as TypeScript for Node does.
      [
        'run',
        '--allow-net=127.0.0.1',
        '--allow-read',
        '--allow-env',
        '--sloppy-imports',
        ...flags,
        'deno-server.ts',
      ],
      { cwd: scratch.dir, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } },
    ))
  })

  afterAll(() => server?.stop())

  it('writes retry: and heartbeats to a plain fetch as they come, and frees the connection when it leaves', async () => {
    await heartbeatScenario(origin, `deno-heartbeat-${flags.length}`)
  })

  it('is followed by connect() in Deno: events in order, resume after a cut, 204 at the end', async () => {
    await followScenario(origin, launch, `deno-follow-${flags.length}`)
  })

  it('streams a run started by a POST (startExecution) to connect() in Deno, event by event', async () => {
    await runScenario(origin, launch)
  })

  it("prints Deno's legacy-abort warning once in the default mode, never with the flag", () => {
    const warnings = server.output().match(/request\.signal aborts on successful responses/g) ?? []
    expect(warnings.length).toBe(flags.length === 0 ? 1 : 0)
  })
})
