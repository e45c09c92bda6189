// Next.js: App Router route handlers (app/api/.../route.ts, `dynamic = 'force-dynamic'`) with
// serveWeb and startExecution, built with `next build` and served by `next start`, read by
// connect() in Node.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { runClient } from './support/client-process.js'
import { type RuntimeProcess, startProcess, startServer } from './support/processes.js'
import { followScenario, heartbeatScenario, runScenario } from './support/scenario.js'
import { createScratch, ROOT, type Scratch } from './support/scratch.js'

const NEXT = join(ROOT, 'node_modules/next/dist/bin/next')
const ENV = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' }

let scratch: Scratch
let server: RuntimeProcess
let api: string
const launch = (url: string, options?: Record<string, unknown>) =>
  runClient('node', scratch.dir, url, options)

beforeAll(async () => {
  // TypeScript and the React types are linked so that `next build` finds them instead of
  // installing them into the app.
  scratch = createScratch(['tsx', 'next', 'react', 'react-dom', 'typescript', '@types/react', '@types/node'])
  const app = join(scratch.dir, 'next')
  const builder = startProcess(process.execPath, [NEXT, 'build'], { cwd: app, env: ENV })
  const code = await new Promise<number | null>((resolve) => builder.child.once('exit', resolve))
  if (code !== 0) throw new Error(`next build exited with ${code}:\n${builder.output()}`)
  let origin: string
  ;({ process: server, origin } = await startServer(
    process.execPath,
    [NEXT, 'start', '--port', '0', '--hostname', '127.0.0.1'],
    { cwd: app, env: ENV },
  ))
  api = `${origin}/api`
})

afterAll(async () => {
  await server?.stop()
  scratch?.remove()
})

describe('a Next.js app (next build, next start) with serveWeb in route handlers', () => {
  it('writes retry: and heartbeats to a plain fetch as they come', async () => {
    await heartbeatScenario(api, 'next-heartbeat')
  })

  it('is followed by connect() in Node: events in order, resume after a cut, 204 at the end', async () => {
    await followScenario(api, launch, 'next-follow')
  })

  it('streams a run started by a POST route (startExecution) event by event, not at the end', async () => {
    await runScenario(api, launch)
  })
})
