import type { IncomingMessage, ServerResponse } from 'node:http'
import { createAgentExecuteApp } from '../agent-execute/app.js'
import { createFlowExecutorApp } from '../flow-executor/app.js'
import { createJobTaskEventsApp } from '../job-task-events/app.js'
import type { ExampleApp, ExampleOptions } from '../shared/example-app.js'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createWorkflowBuilderApp } from '../workflow-builder/app.js'
import { createWorkflowTasksApp } from '../workflow-tasks/app.js'
import { type BuiltPages, buildPages } from './build-pages.js'

/** Options of {@link startPlayground}. */
export interface PlaygroundOptions extends ExampleOptions {
  /** The port to listen on; 0 lets the OS pick one. */
  port: number
  /** The address to listen on. */
  host?: string | undefined
  /** A name for this process, shown on the dashboard (`A` and `B` in a cluster). */
  processName?: string | undefined
  /** Called as the dashboard builds: modules loaded so far, then once with the result. */
  onBuild?: ((event: { modules: number } | { done: BuiltPages } | { failed: Error }) => void) | undefined
}

/** A running playground. */
export interface Playground extends ServedApps {
  /** The five example applications, by name. */
  readonly apps: ReadonlyMap<string, ExampleApp>
  /** Resolves once the dashboard is built (the server answers before, with a progress page). */
  readonly pages: Promise<BuiltPages>
}

/** What the dashboard shows about the server it talks to. */
export interface PlaygroundInfo {
  readonly process: string
  readonly pid: number
  readonly broker: 'redis' | 'memory'
  readonly database: 'postgres' | 'pglite'
}

const PAGE = (body: string, head = ''): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>taskwire playground</title>
${head}
</head>
<body>
${body}
</body>
</html>
`

/**
 * Starts the five example applications on one node:http server, with the dashboard at `/`.
 * The server answers at once; until the pages are built, `/` shows the build's progress and
 * reloads itself.
 *
 * @param options - port, services, pace and where to report
 * @returns the running playground
 */
export async function startPlayground(options: PlaygroundOptions): Promise<Playground> {
  const exampleOptions: ExampleOptions = {
    redisUrl: options.redisUrl,
    redisPrefix: options.redisPrefix,
    databaseUrl: options.databaseUrl,
    pace: options.pace,
    log: options.log,
  }
  const apps = await Promise.all([
    createWorkflowTasksApp(exampleOptions),
    createJobTaskEventsApp(exampleOptions),
    createAgentExecuteApp(exampleOptions),
    createFlowExecutorApp(exampleOptions),
    createWorkflowBuilderApp(exampleOptions),
  ])
  const info: PlaygroundInfo = {
    process: options.processName ?? 'single',
    pid: process.pid,
    broker: options.redisUrl ? 'redis' : 'memory',
    database: options.databaseUrl ? 'postgres' : 'pglite',
  }

  let built: BuiltPages | undefined
  let failed: Error | undefined
  let modules = 0
  const pages = buildPages((count) => {
    modules = count
    options.onBuild?.({ modules: count })
  }).then(
    (result) => {
      built = result
      options.onBuild?.({ done: result })
      return result
    },
    (error: unknown) => {
      failed = error instanceof Error ? error : new Error(String(error))
      options.onBuild?.({ failed })
      throw failed
    },
  )
  // Awaited by whoever needs the pages; the server itself only reads `built` and `failed`.
  pages.catch(() => {})

  type Answer = readonly [status: number, type: string, body: string | Uint8Array]
  const JSON_TYPE = 'application/json'
  const NOT_FOUND: Answer = [404, JSON_TYPE, '{"error":"Not found"}']
  const answer = (req: IncomingMessage): Answer => {
    const path = new URL(req.url ?? '/', 'http://playground').pathname
    if (req.method !== 'GET') return NOT_FOUND
    if (path === '/api/playground') return [200, JSON_TYPE, JSON.stringify(info)]
    if (path === '/assets/dashboard.js' && built) return [200, 'text/javascript; charset=utf-8', built.js]
    if (path === '/assets/dashboard.css' && built) return [200, 'text/css; charset=utf-8', built.css]
    if (path !== '/') return NOT_FOUND
    if (failed) return [500, 'text/plain; charset=utf-8', `The pages failed to build:\n\n${failed.message}\n`]
    if (!built) {
      const progress = `<p style="font-family: system-ui; margin: 40px">Building the pages… ${modules} modules so far.</p>`
      return [200, 'text/html; charset=utf-8', PAGE(progress, '<meta http-equiv="refresh" content="1">')]
    }
    const app = '<div id="root"></div>\n<script type="module" src="/assets/dashboard.js"></script>'
    return [
      200,
      'text/html; charset=utf-8',
      PAGE(app, '<link rel="stylesheet" href="/assets/dashboard.css">'),
    ]
  }
  const pagesRoute = (req: IncomingMessage, res: ServerResponse): void => {
    const [status, type, body] = answer(req)
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body)
  }

  const served = await serveApps(apps, { port: options.port, host: options.host, fallback: pagesRoute })
  return { ...served, apps: new Map(apps.map((app) => [app.name, app])), pages }
}
