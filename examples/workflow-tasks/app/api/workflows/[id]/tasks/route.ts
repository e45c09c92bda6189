// In an app: import { workflowTasks } from '@/lib/instance'
import { workflowTasks } from '../../../../../lib/instance.js'

// The list changes with every write: never serve it from a cache.
export const dynamic = 'force-dynamic'

/** GET /api/workflows/:id/tasks: the workflow's tasks, newest first. */
export function GET(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  return workflowTasks.tasks.GET(request, context)
}

/** POST /api/workflows/:id/tasks `{ "title", "description"?, "status"? }`: creates a task. */
export function POST(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  return workflowTasks.tasks.POST(request, context)
}
