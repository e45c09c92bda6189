import { getRequestListener } from '@hono/node-server'
import { type ExampleApp, type ExampleOptions, redisPrefixOf } from '../shared/example-app.js'
import { createWorkflowHub } from './lib/hub.js'
import { createTaskStore } from './lib/tasks.js'
import { createWorkflowTasks, type WorkflowTasksRoutes } from './lib/workflow-tasks.js'

type Route = (request: Request) => Promise<Response>

/**
 * The workflow task list's routes on node:http: the same handlers the Next.js route.ts files
 * export, bound to a hub and a store of their own (each call starts from the seed).
 *
 * - `GET|POST /api/workflows/:id/tasks`
 * - `PATCH|DELETE /api/workflows/:id/tasks/:taskId`
 * - `GET /api/workflows/:id/events` (SSE)
 *
 * @param options - `redisUrl` for the Redis broker; `log` for a line per failed request
 * @returns the app
 */
export async function createWorkflowTasksApp(options: ExampleOptions = {}): Promise<ExampleApp> {
  const { hub, close } = await createWorkflowHub({
    redisUrl: options.redisUrl,
    redisPrefix: redisPrefixOf(options, 'workflow-tasks'),
  })
  const routes = await createWorkflowTasks({ hub, tasks: createTaskStore() })
  // @hono/node-server turns the node request into a `Request` (its signal aborts when the
  // client leaves) and writes the `Response` body as it streams, which is what an SSE
  // response needs. Leave the process's global Request and Response alone.
  const listener = getRequestListener(
    (request) => (findRoute(routes, request.method, new URL(request.url).pathname) ?? notFound)(request),
    {
      overrideGlobalObjects: false,
      errorHandler: (error) => {
        options.log?.(`workflow-tasks: ${error instanceof Error ? error.message : String(error)}`)
        return Response.json({ error: { code: 'internal', message: 'Try again later.' } }, { status: 500 })
      },
    },
  )

  return {
    name: 'workflow-tasks',
    handle(req, res) {
      const path = (req.url ?? '').split('?')[0] ?? ''
      if (!findRoute(routes, req.method ?? '', path)) return false
      void listener(req, res)
      return true
    },
    close,
  }
}

const ROUTE = /^\/api\/workflows\/([^/]+)\/(tasks|events)(?:\/([^/]+))?$/

/**
 * The handler for a method and path, with its params, as Next.js's file routes would pick
 * it; undefined for anything else, which other routes on the same server may serve
 * (`/api/workflows/:id/execute` and `/api/workflows/executions/…` among them).
 */
function findRoute(routes: WorkflowTasksRoutes, method: string, path: string): Route | undefined {
  const match = ROUTE.exec(path)
  const id = decode(match?.[1])
  // `/api/workflows/executions/…` names executions, not a workflow called "executions".
  if (!match || id === undefined || id === 'executions') return undefined
  const [, , resource, rawTaskId] = match
  if (resource === 'events' && rawTaskId === undefined && method === 'GET') {
    return (request) => routes.events.GET(request, { params: Promise.resolve({ id }) })
  }
  if (resource === 'tasks' && rawTaskId === undefined) {
    const handler = method === 'GET' ? routes.tasks.GET : method === 'POST' ? routes.tasks.POST : undefined
    return handler && ((request) => handler(request, { params: Promise.resolve({ id }) }))
  }
  const taskId = decode(rawTaskId)
  if (resource === 'tasks' && taskId !== undefined) {
    const handler =
      method === 'PATCH' ? routes.task.PATCH : method === 'DELETE' ? routes.task.DELETE : undefined
    return handler && ((request) => handler(request, { params: Promise.resolve({ id, taskId }) }))
  }
  return undefined
}

/** A path segment decoded as Next.js decodes params; undefined when absent or malformed (`%E0%A4%A`). */
function decode(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

async function notFound(): Promise<Response> {
  return Response.json({ error: { code: 'not-found', message: 'No such route.' } }, { status: 404 })
}
