import * as z from 'zod'
import { defineCatalog } from './catalog.js'
import { ownRecordSchema } from './own-record-schema.js'
import { errorInfoSchema, runStateSchema } from './run-state-schema.js'

/**
 * Builds {@link defaultCatalog}. Called under a `@__PURE__` annotation: tsup puts all of core
 * in one chunk, and a bundler keeps every top-level call there it cannot prove pure, so
 * without it an app importing only `formatEvent` would build and ship the catalog and zod
 * (issue 8).
 *
 * @returns the catalog
 */
function createDefaultCatalog() {
  const id = z.string().min(1)
  const percent = z.number().min(0).max(100)
  const meta = ownRecordSchema(z.unknown())
  const taskStatus = z.enum(['pending', 'in_progress', 'completed', 'failed', 'cancelled'])
  const durationMs = z.number().nonnegative()

  /** Fields a task event may carry besides its id. */
  const taskFields = {
    /** The task's id, its key within the stream. */
    taskId: id,
    /** A short title to show. */
    title: z.string().optional(),
    /** A longer description. */
    description: z.string().optional(),
    /** The task's status. */
    status: taskStatus.optional(),
    /** A progress note, shown beside the status. */
    note: z.string().optional(),
    /** Progress from 0 to 100. */
    percent: percent.optional(),
    /** Producer-defined fields, kept in the task's state. */
    meta: meta.optional(),
  }

  /** Agent events name the agent by role and may say which task it works on. */
  const agentRef = {
    /** The agent's role, its key within the run (`tech-lead`). */
    role: id,
    /** The task the agent works on. */
    taskId: z.string().optional(),
  }

  return defineCatalog({
    /** The current state, sent first to a new subscriber; `meta` carries extra stream info. */
    'stream.snapshot': z.object({
      /** The stream's state folded from every event so far. */
      state: runStateSchema,
      /** Extra stream information (a job's status, say). */
      meta: meta.optional(),
    }),
    /** The reader's cursor fell out of the replay log; `state` replaces whatever it had. */
    'stream.reset': z.object({
      /** The stream's current state, to replace the reader's. */
      state: runStateSchema,
      /**
       * Why: the cursor fell out of the replay log, or was never issued by it (a cursor from
       * before a server restart), or the state is too large to send whole; then `state` keeps
       * the run's fields but not its tasks, agents and nodes.
       */
      reason: z.enum(['cursor-expired', 'cursor-unknown', 'snapshot-too-large']),
    }),

    /** A task was created. */
    'task.created': z.object(taskFields),
    /** Some of a task's fields changed. */
    'task.updated': z.object(taskFields),
    /** A task was deleted. */
    'task.deleted': z.object({
      /** The deleted task's id. */
      taskId: id,
    }),
    /** A task's status changed. */
    'task.status': z.object({
      ...taskFields,
      /** The task's new status. */
      status: taskStatus,
    }),
    /** A task made progress: a note, a percentage, or both. */
    'task.progress': z.object({
      /** The task's id. */
      taskId: id,
      /** What the task is doing now. */
      note: z.string().optional(),
      /** Progress from 0 to 100. */
      percent: percent.optional(),
    }),
    /** A task completed; `outputs` counts what it produced. */
    'task.completed': z.object({
      /** The task's id. */
      taskId: id,
      /** A closing note. */
      note: z.string().optional(),
      /** How long the task took. */
      durationMs: durationMs.optional(),
      /** How many outputs the task produced. */
      outputs: z.number().int().nonnegative().optional(),
    }),
    /** A task failed. `taskId` may be absent when the failure is global to the stream. */
    'task.failed': z.object({
      /** The task's id, absent for a stream-wide failure. */
      taskId: z.string().optional(),
      /** Why it failed. */
      error: errorInfoSchema,
    }),

    /** An agent started. */
    'agent.started': z.object({
      ...agentRef,
      /** The agent's display name. */
      name: z.string().optional(),
      /** What the agent is about to do. */
      description: z.string().optional(),
    }),
    /** An agent reported progress. */
    'agent.progress': z.object({
      ...agentRef,
      /** What the agent is doing now. */
      message: z.string().optional(),
      /** Progress from 0 to 100. */
      percent: percent.optional(),
    }),
    /** An agent completed, with how long it took and whether it produced artifacts. */
    'agent.completed': z.object({
      ...agentRef,
      /** How long the agent ran. */
      durationMs: durationMs.optional(),
      /** Whether the agent produced artifacts to fetch. */
      hasArtifacts: z.boolean().optional(),
    }),
    /** An agent failed. */
    'agent.failed': z.object({
      ...agentRef,
      /** How long the agent ran before failing. */
      durationMs: durationMs.optional(),
      /** Why it failed. */
      error: errorInfoSchema,
    }),

    /** A run started; `nodes` announces the nodes it will execute, all pending. */
    'run.started': z.object({
      /** The execution's id in the producer's system. */
      executionId: z.union([z.string(), z.number()]).optional(),
      /** The workflow being executed. */
      workflowId: z.union([z.string(), z.number()]).optional(),
      /** How the run was started (`manual`, `trigger`, `simulation` ...). */
      mode: z.string().optional(),
      /** The nodes the run will execute, in order. */
      nodes: z
        .array(
          z.object({
            /** The node's id, its key within the run. */
            nodeId: id,
            /** The node's display name. */
            name: z.string().optional(),
          }),
        )
        .optional(),
    }),
    /** A node started. */
    'node.started': z.object({
      /** The node's id. */
      nodeId: id,
      /** The node's display name. */
      name: z.string().optional(),
      /** What the node is about to do. */
      message: z.string().optional(),
    }),
    /** A node reported progress. */
    'node.progress': z.object({
      /** The node's id. */
      nodeId: id,
      /** What the node is doing now. */
      message: z.string().optional(),
      /** Progress from 0 to 100. */
      percent: percent.optional(),
      /** Intermediate data the node produced. */
      data: z.unknown().optional(),
    }),
    /** A node completed with its output. */
    'node.completed': z.object({
      /** The node's id. */
      nodeId: id,
      /** The node's display name. */
      name: z.string().optional(),
      /** A closing message. */
      message: z.string().optional(),
      /** What the node produced. */
      output: z.unknown().optional(),
      /** How long the node ran. */
      durationMs: durationMs.optional(),
    }),
    /** A node failed. */
    'node.failed': z.object({
      /** The node's id. */
      nodeId: id,
      /** The node's display name. */
      name: z.string().optional(),
      /** A status line to show on the node (what went wrong, in words). */
      message: z.string().optional(),
      /** What the node produced before it failed (partial results). */
      output: z.unknown().optional(),
      /** Why it failed. */
      error: errorInfoSchema,
      /** How long the node ran before failing. */
      durationMs: durationMs.optional(),
    }),
    /** The run completed. Terminal: the server closes the stream after it. */
    'run.completed': z.object({
      /** What the run produced. */
      output: z.unknown().optional(),
      /** How long the run took. */
      durationMs: durationMs.optional(),
    }),
    /** The run failed. Terminal. */
    'run.failed': z.object({
      /** Why it failed. */
      error: errorInfoSchema,
      /** How long the run went before failing. */
      durationMs: durationMs.optional(),
    }),
    /** The run was cancelled. Terminal. */
    'run.cancelled': z.object({
      /** Why the run was cancelled. */
      reason: z.string().optional(),
    }),
  })
}

/**
 * The built-in events: stream, task, agent, run and node events. The events of common
 * hand-built systems (task lists, webhook-fed jobs, agent teams, flow executors, workflow
 * builders) each have a home here; docs/events.md maps them field by field.
 *
 * @example
 * ```ts
 * hub.publish('job-7', 'agent.completed', { role: 'tech-lead', durationMs: 12500, hasArtifacts: true })
 * ```
 */
export const defaultCatalog = /* @__PURE__ */ createDefaultCatalog()

/** The type of {@link defaultCatalog}. */
export type DefaultCatalog = typeof defaultCatalog
