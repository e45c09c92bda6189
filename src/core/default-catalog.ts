import { z } from 'zod';
import { defineCatalog } from './catalog.js';
import { errorInfoSchema, runStateSchema } from './run-state.js';

const id = z.string().min(1);
const percent = z.number().min(0).max(100);
const meta = z.record(z.string(), z.unknown());
const taskStatus = z.enum(['pending', 'in_progress', 'completed', 'failed', 'cancelled']);
const durationMs = z.number().nonnegative();

/** Fields a task event may carry besides its id. */
const taskFields = {
  taskId: id,
  title: z.string().optional(),
  description: z.string().optional(),
  status: taskStatus.optional(),
  note: z.string().optional(),
  percent: percent.optional(),
  meta: meta.optional(),
};

/** Agent events name the agent by role and may say which task it works on. */
const agentRef = { role: id, taskId: z.string().optional() };

/**
 * The built-in events: stream, task, agent, run and node events. Every event name and field
 * of the five cards has a home here; docs/events.md maps them card by card.
 *
 * @example
 * ```ts
 * hub.publish('job-7', 'agent.completed', { role: 'tech-lead', durationMs: 12500, hasArtifacts: true })
 * ```
 */
export const defaultCatalog = defineCatalog({
  /** The current state, sent first to a new subscriber; `meta` carries extra stream info. */
  'stream.snapshot': z.object({ state: runStateSchema, meta: meta.optional() }),
  /** The reader's cursor fell out of the replay log; `state` replaces whatever it had. */
  'stream.reset': z.object({
    state: runStateSchema,
    reason: z.enum(['cursor-expired', 'cursor-unknown']),
  }),

  /** A task was created. */
  'task.created': z.object(taskFields),
  /** Some of a task's fields changed. */
  'task.updated': z.object(taskFields),
  /** A task was deleted. */
  'task.deleted': z.object({ taskId: id }),
  /** A task's status changed. */
  'task.status': z.object({ ...taskFields, status: taskStatus }),
  /** A task made progress: a note, a percentage, or both. */
  'task.progress': z.object({ taskId: id, note: z.string().optional(), percent: percent.optional() }),
  /** A task completed; `outputs` counts what it produced. */
  'task.completed': z.object({
    taskId: id,
    note: z.string().optional(),
    durationMs: durationMs.optional(),
    outputs: z.number().int().nonnegative().optional(),
  }),
  /** A task failed. `taskId` may be absent when the failure is global to the stream. */
  'task.failed': z.object({ taskId: z.string().optional(), error: errorInfoSchema }),

  /** An agent started. */
  'agent.started': z.object({
    ...agentRef,
    name: z.string().optional(),
    description: z.string().optional(),
  }),
  /** An agent reported progress. */
  'agent.progress': z.object({
    ...agentRef,
    message: z.string().optional(),
    percent: percent.optional(),
  }),
  /** An agent completed, with how long it took and whether it produced artifacts. */
  'agent.completed': z.object({
    ...agentRef,
    durationMs: durationMs.optional(),
    hasArtifacts: z.boolean().optional(),
  }),
  /** An agent failed. */
  'agent.failed': z.object({ ...agentRef, durationMs: durationMs.optional(), error: errorInfoSchema }),

  /** A run started; `nodes` announces the nodes it will execute, all pending. */
  'run.started': z.object({
    executionId: z.union([z.string(), z.number()]).optional(),
    workflowId: z.union([z.string(), z.number()]).optional(),
    mode: z.string().optional(),
    nodes: z.array(z.object({ nodeId: id, name: z.string().optional() })).optional(),
  }),
  /** A node started. */
  'node.started': z.object({ nodeId: id, name: z.string().optional(), message: z.string().optional() }),
  /** A node reported progress. */
  'node.progress': z.object({
    nodeId: id,
    message: z.string().optional(),
    percent: percent.optional(),
    data: z.unknown().optional(),
  }),
  /** A node completed with its output. */
  'node.completed': z.object({
    nodeId: id,
    name: z.string().optional(),
    message: z.string().optional(),
    output: z.unknown().optional(),
    durationMs: durationMs.optional(),
  }),
  /** A node failed. */
  'node.failed': z.object({
    nodeId: id,
    name: z.string().optional(),
    error: errorInfoSchema,
    durationMs: durationMs.optional(),
  }),
  /** The run completed. Terminal: the server closes the stream after it. */
  'run.completed': z.object({ output: z.unknown().optional(), durationMs: durationMs.optional() }),
  /** The run failed. Terminal. */
  'run.failed': z.object({ error: errorInfoSchema, durationMs: durationMs.optional() }),
  /** The run was cancelled. Terminal. */
  'run.cancelled': z.object({ reason: z.string().optional() }),
});

/** The type of {@link defaultCatalog}. */
export type DefaultCatalog = typeof defaultCatalog;

/** The event types that end a run; a server closes the stream after writing one. */
export const terminalEventTypes: readonly string[] = Object.freeze([
  'run.completed',
  'run.failed',
  'run.cancelled',
]);

/**
 * Tells whether an event type ends a run.
 *
 * @param type - an event type
 * @returns true for `run.completed`, `run.failed` and `run.cancelled`
 */
export function isTerminalEventType(type: string): boolean {
  return terminalEventTypes.includes(type);
}
