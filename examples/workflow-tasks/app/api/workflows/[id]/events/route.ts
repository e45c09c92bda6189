// In an app: import { workflowTasks } from '@/lib/instance'
import { workflowTasks } from '../../../../../lib/instance.js'

// A live stream: never cache it, never prerender it.
export const dynamic = 'force-dynamic'
// The hub lives in this server process (and reaches Redis over TCP when it has it).
export const runtime = 'nodejs'

/**
 * GET /api/workflows/:id/events: the workflow's task events as Server-Sent Events, served by
 * `serveWeb` from 'taskwire/server' (lib/workflow-tasks.ts), with a heartbeat every 30 s.
 */
export function GET(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  return workflowTasks.events.GET(request, context)
}
