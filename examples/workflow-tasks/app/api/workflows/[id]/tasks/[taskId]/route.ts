// In an app: import { workflowTasks } from '@/lib/instance'
import { workflowTasks } from '../../../../../../lib/instance.js'

type Context = { params: Promise<{ id: string; taskId: string }> }

/** PATCH /api/workflows/:id/tasks/:taskId `{ "title"?, "description"?, "status"? }`. */
export function PATCH(request: Request, context: Context): Promise<Response> {
  return workflowTasks.task.PATCH(request, context)
}

/** DELETE /api/workflows/:id/tasks/:taskId. */
export function DELETE(request: Request, context: Context): Promise<Response> {
  return workflowTasks.task.DELETE(request, context)
}
