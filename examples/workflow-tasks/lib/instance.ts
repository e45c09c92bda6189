import { createWorkflowHub, type WorkflowHub } from './hub.js'
import { createTaskStore } from './tasks.js'
import { createWorkflowTasks, type WorkflowTasksRoutes } from './workflow-tasks.js'

interface Instance extends WorkflowHub {
  routes: WorkflowTasksRoutes
}

async function start(): Promise<Instance> {
  const workflowHub = await createWorkflowHub({ redisUrl: process.env.REDIS_URL })
  const routes = await createWorkflowTasks({ hub: workflowHub.hub, tasks: createTaskStore() })
  return { ...workflowHub, routes }
}

// One hub and one store per server process, shared by every route.ts. `next dev` evaluates
// modules again after each edit; kept on globalThis, the instance outlives that, so pages
// already connected keep hearing the writes made after the edit.
const cache = globalThis as typeof globalThis & { workflowTasks?: Promise<Instance> }
cache.workflowTasks ??= start().catch((error: unknown) => {
  // Redis unreachable at startup, say: a later import starts again instead of reusing the failure.
  delete cache.workflowTasks
  throw error
})
const instance = await cache.workflowTasks

/** The route handlers the route.ts files export. */
export const workflowTasks: WorkflowTasksRoutes = instance.routes
/** Closes the hub (and its Redis broker); for tests and shutdown hooks. */
export const closeWorkflowTasks = (): Promise<void> => instance.close()
