import type { TaskStatus } from 'taskwire'
import * as z from 'zod'

/** A workflow's task, as the task store keeps it and the JSON routes return it. */
export interface Task {
  id: string
  workflowId: string
  title: string
  /** Empty when the task has none. */
  description: string
  status: TaskStatus
  createdAt: string
  updatedAt: string
}

/** The statuses a task moves through; the same values as taskwire's task events. */
export const TASK_STATUSES = [
  'pending',
  'in_progress',
  'completed',
  'failed',
  'cancelled',
] as const satisfies readonly TaskStatus[]

const title = z
  .string()
  .trim()
  .min(1, 'Give the task a title.')
  .max(200, 'Keep the title under 200 characters.')
const description = z.string().trim().max(2000, 'Keep the description under 2000 characters.')
const status = z.enum(TASK_STATUSES)

/** The body of `POST /api/workflows/:id/tasks`. Unknown keys are refused, so a typo is a 400. */
export const newTaskSchema = z.strictObject({
  title,
  description: description.optional(),
  status: status.optional(),
})

/** The body of `PATCH /api/workflows/:id/tasks/:taskId`: any of the fields, at least one. */
export const taskChangesSchema = z
  .strictObject({
    title: title.optional(),
    description: description.optional(),
    status: status.optional(),
  })
  .refine((changes) => Object.keys(changes).length > 0, 'Send at least one of title, description and status.')

export type NewTask = z.output<typeof newTaskSchema>
export type TaskChanges = z.output<typeof taskChangesSchema>

/**
 * Where tasks live. Asynchronous like the database that would stand in its place: swap
 * `createTaskStore` for queries of your own and the routes stay as they are.
 */
export interface TaskStore {
  /** Every workflow's id. */
  workflows(): Promise<string[]>
  hasWorkflow(workflowId: string): Promise<boolean>
  /** The workflow's tasks, newest first; undefined for an unknown workflow. */
  list(workflowId: string): Promise<Task[] | undefined>
  create(workflowId: string, input: NewTask): Promise<Task>
  /** The task before and after the change; undefined when there is no such task. */
  update(
    workflowId: string,
    taskId: string,
    changes: TaskChanges,
  ): Promise<{ before: Task; after: Task } | undefined>
  /** The removed task; undefined when there was no such task. */
  remove(workflowId: string, taskId: string): Promise<Task | undefined>
}

/** The workflow a fresh store starts with, so a new server has something to show. */
const SEED: Record<string, readonly (NewTask & { id: string })[]> = {
  demo: [
    { id: 'collect-requirements', title: 'Collect requirements', status: 'completed' },
    {
      id: 'draft-schema',
      title: 'Draft the database schema',
      description: 'Tables for workflows, tasks and assignees.',
      status: 'in_progress',
    },
    { id: 'review-api', title: 'Review the API design', status: 'pending' },
  ],
}

/**
 * An in-memory task store holding the seeded `demo` workflow.
 *
 * @param now - the clock, for timestamps
 * @returns the store
 */
export function createTaskStore(now: () => Date = () => new Date()): TaskStore {
  // Insertion order is creation order; `list` reverses it.
  const workflows = new Map<string, Map<string, Task>>()

  const insert = (workflowId: string, id: string, input: NewTask): Task => {
    const tasks = workflows.get(workflowId)
    if (!tasks) throw new Error(`No workflow ${workflowId}.`)
    const at = now().toISOString()
    const task: Task = {
      id,
      workflowId,
      title: input.title,
      description: input.description ?? '',
      status: input.status ?? 'pending',
      createdAt: at,
      updatedAt: at,
    }
    tasks.set(id, task)
    return task
  }

  for (const [workflowId, seed] of Object.entries(SEED)) {
    workflows.set(workflowId, new Map())
    for (const { id, ...input } of seed) insert(workflowId, id, input)
  }

  return {
    async workflows() {
      return [...workflows.keys()]
    },
    async hasWorkflow(workflowId) {
      return workflows.has(workflowId)
    },
    async list(workflowId) {
      const tasks = workflows.get(workflowId)
      return tasks && [...tasks.values()].reverse()
    },
    async create(workflowId, input) {
      return insert(workflowId, crypto.randomUUID(), input)
    },
    async update(workflowId, taskId, changes) {
      const tasks = workflows.get(workflowId)
      const before = tasks?.get(taskId)
      if (!tasks || !before) return undefined
      const after: Task = {
        ...before,
        title: changes.title ?? before.title,
        description: changes.description ?? before.description,
        status: changes.status ?? before.status,
        updatedAt: now().toISOString(),
      }
      tasks.set(taskId, after)
      return { before, after }
    },
    async remove(workflowId, taskId) {
      const tasks = workflows.get(workflowId)
      const task = tasks?.get(taskId)
      if (task) tasks?.delete(taskId)
      return task
    },
  }
}
