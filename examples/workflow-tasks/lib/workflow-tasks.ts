import { type Hub, serveWeb } from 'taskwire/server'
import type * as z from 'zod'
import { newTaskSchema, type Task, type TaskStore, taskChangesSchema } from './tasks.js'

/** What Next.js passes a handler of `app/api/workflows/[id]/…` (Next 15: `params` is a promise). */
export interface WorkflowContext {
  params: Promise<{ id: string }>
}

/** What Next.js passes a handler of `app/api/workflows/[id]/tasks/[taskId]/route.ts`. */
export interface TaskContext {
  params: Promise<{ id: string; taskId: string }>
}

type Handler<Context> = (request: Request, context: Context) => Promise<Response>

/** The route handlers, grouped by the route.ts file that exports them. */
export interface WorkflowTasksRoutes {
  /** `app/api/workflows/[id]/tasks/route.ts`: list and create. */
  tasks: { GET: Handler<WorkflowContext>; POST: Handler<WorkflowContext> }
  /** `app/api/workflows/[id]/tasks/[taskId]/route.ts`: change fields or status, delete. */
  task: { PATCH: Handler<TaskContext>; DELETE: Handler<TaskContext> }
  /** `app/api/workflows/[id]/events/route.ts`: the workflow's live event stream. */
  events: { GET: Handler<WorkflowContext> }
}

/**
 * Binds the route handlers to one hub and one task store. Every write goes to the store
 * first and is published to the workflow's stream after, so a viewer who reloads on an
 * event always finds the change in `GET …/tasks`.
 *
 * @param deps - the hub that carries the events and the store that holds the tasks
 * @returns the handlers, once each workflow's stream shows what the store holds
 */
export async function createWorkflowTasks({
  hub,
  tasks,
}: {
  hub: Hub
  tasks: TaskStore
}): Promise<WorkflowTasksRoutes> {
  for (const workflowId of await tasks.workflows()) await syncStream(hub, tasks, workflowId)

  return {
    tasks: {
      async GET(_request, { params }) {
        const { id } = await params
        const list = await tasks.list(id)
        return list ? json(200, { tasks: list }) : noWorkflow(id)
      },

      async POST(request, { params }) {
        const { id } = await params
        if (!(await tasks.hasWorkflow(id))) return noWorkflow(id)
        const input = await readBody(request, newTaskSchema)
        if (!input.ok) return input.response
        const task = await tasks.create(id, input.value)
        await hub.publish(id, 'task.created', taskFields(task))
        return json(201, { task })
      },
    },

    task: {
      async PATCH(request, { params }) {
        const { id, taskId } = await params
        if (!(await tasks.hasWorkflow(id))) return noWorkflow(id)
        const changes = await readBody(request, taskChangesSchema)
        if (!changes.ok) return changes.response
        const result = await tasks.update(id, taskId, changes.value)
        if (!result) return noTask(id, taskId)
        const { before, after } = result
        // Edited fields and a new status are separate events, so a page can toast
        // "renamed" and "completed" differently; both follow the write.
        const edits: { title?: string; description?: string } = {}
        if (after.title !== before.title) edits.title = after.title
        if (after.description !== before.description) edits.description = after.description
        if (Object.keys(edits).length > 0) await hub.publish(id, 'task.updated', { taskId, ...edits })
        if (after.status !== before.status) {
          if (after.status === 'completed') await hub.publish(id, 'task.completed', { taskId })
          else await hub.publish(id, 'task.status', { taskId, status: after.status })
        }
        return json(200, { task: after })
      },

      async DELETE(_request, { params }) {
        const { id, taskId } = await params
        if (!(await tasks.hasWorkflow(id))) return noWorkflow(id)
        const removed = await tasks.remove(id, taskId)
        if (!removed) return noTask(id, taskId)
        await hub.publish(id, 'task.deleted', { taskId })
        return new Response(null, { status: 204 })
      },
    },

    events: {
      async GET(request, { params }) {
        const { id } = await params
        return serveWeb(hub, request, {
          stream: id,
          // Decided before any byte of the stream: a mistyped workflow is a 404, not a
          // stream that stays silent forever.
          authorize: async () =>
            (await tasks.hasWorkflow(id)) || { status: 404, message: `No workflow ${id}.` },
        })
      },
    },
  }
}

/**
 * Makes a workflow's stream show what the store holds: pages fold the stream into their
 * list, so the two must agree before the first page connects. On a fresh hub this
 * publishes the stored tasks; a stream kept in Redis across restarts may also remember
 * tasks the store no longer has, which are deleted.
 */
async function syncStream(hub: Hub, tasks: TaskStore, workflowId: string): Promise<void> {
  const shown = (await hub.snapshot(workflowId)).tasks
  const stored = (await tasks.list(workflowId)) ?? []
  const kept = new Set(stored.map((task) => task.id))
  for (const task of shown) {
    if (!kept.has(task.id)) await hub.publish(workflowId, 'task.deleted', { taskId: task.id })
  }
  // Oldest first: the stream keeps tasks in the order it first heard of them.
  for (const task of [...stored].reverse()) {
    const seen = shown.find((candidate) => candidate.id === task.id)
    if (!seen) await hub.publish(workflowId, 'task.created', taskFields(task))
    else if (
      seen.title !== task.title ||
      seen.description !== task.description ||
      seen.status !== task.status
    ) {
      await hub.publish(workflowId, 'task.updated', taskFields(task))
    }
  }
}

/** A task as the payload of a `task.created` event. */
function taskFields(task: Task) {
  return { taskId: task.id, title: task.title, description: task.description, status: task.status }
}

/** One invalid field of a request body, in the shape taskwire's own 400s use. */
interface FieldIssue {
  path: string
  message: string
  code: string
}

type BodyResult<T> = { ok: true; value: T } | { ok: false; response: Response }

/** Reads a JSON body and validates it; anything wrong with it is a 400 naming each field. */
async function readBody<S extends z.ZodType>(request: Request, schema: S): Promise<BodyResult<z.output<S>>> {
  let body: unknown
  try {
    body = JSON.parse(await request.text())
  } catch {
    return {
      ok: false,
      response: invalidBody([{ path: '', message: 'The body must be JSON.', code: 'invalid-json' }]),
    }
  }
  const parsed = schema.safeParse(body)
  if (parsed.success) return { ok: true, value: parsed.data }
  const issues = parsed.error.issues.flatMap((issue): FieldIssue[] => {
    const path = issue.path.map(String)
    // One issue per unknown key, so each field error names its field.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: [...path, key].join('.'),
        message: `Unknown field ${key}.`,
        code: issue.code,
      }))
    }
    return [{ path: path.join('.'), message: issue.message, code: issue.code }]
  })
  return { ok: false, response: invalidBody(issues) }
}

function invalidBody(issues: FieldIssue[]): Response {
  return json(400, { error: { code: 'invalid-body', message: 'The task is not valid.', issues } })
}

function noWorkflow(workflowId: string): Response {
  return json(404, { error: { code: 'not-found', message: `No workflow ${workflowId}.` } })
}

function noTask(workflowId: string, taskId: string): Response {
  return json(404, { error: { code: 'not-found', message: `No task ${taskId} in workflow ${workflowId}.` } })
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status, headers: { 'cache-control': 'no-store' } })
}
