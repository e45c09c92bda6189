import * as z from 'zod'

/** An error as carried by events and kept in state: a message and an optional code. */
export interface ErrorInfo {
  /** A human-readable message. */
  message: string
  /** A machine-readable code, when the producer has one. */
  code?: string | undefined
}

/** Status of a task. */
export type TaskStatus = 'pending' | 'in_progress' | 'completed' | 'failed' | 'cancelled'

/** Status of a run as a whole; `idle` until anything has started. */
export type RunStatus = 'idle' | 'running' | 'completed' | 'failed' | 'cancelled'

/** Status of an agent within a run. */
export type AgentStatus = 'running' | 'completed' | 'failed'

/** Status of a workflow node within a run. */
export type NodeStatus = 'pending' | 'running' | 'completed' | 'failed'

/** A task as folded from `task.*` events. */
export interface TaskState {
  /** The task's id. */
  id: string
  /** Its title, when one was sent. */
  title: string | null
  /** Its description, when one was sent. */
  description: string | null
  /** Its current status. */
  status: TaskStatus
  /** The last progress note. */
  note: string | null
  /** The last progress percentage (0 to 100). */
  percent: number | null
  /** Why it failed, when it did. */
  error: ErrorInfo | null
  /** How long it took: as `task.completed` reported it, or measured from the event timestamps. */
  durationMs: number | null
  /** Producer-defined fields (an agent run's `selectedAgents`, `executionMode` ...). */
  meta: Record<string, unknown>
  /** When it was first seen. */
  createdAt: string
  /** When it last changed. */
  updatedAt: string
}

/** An agent as folded from `agent.*` events. */
export interface AgentState {
  /** The agent's role, its key within the run (`tech-lead`). */
  role: string
  /** Its display name. */
  name: string | null
  /** What it is doing. */
  description: string | null
  /** Its status. */
  status: AgentStatus
  /** The last progress message. */
  message: string | null
  /** When it started. */
  startedAt: string | null
  /** When it finished. */
  finishedAt: string | null
  /** How long it ran: as reported, or measured from the event timestamps. */
  durationMs: number | null
  /** Whether it produced artifacts. */
  hasArtifacts: boolean
  /** Why it failed, when it did. */
  error: ErrorInfo | null
}

/** A workflow node as folded from `run.started` and `node.*` events. */
export interface NodeState {
  /** The node's id. */
  id: string
  /** Its display name. */
  name: string | null
  /** Its status: pending, running, completed or failed. */
  status: NodeStatus
  /** The last status message. */
  message: string | null
  /** The last progress percentage (0 to 100). */
  percent: number | null
  /** The output it produced. */
  output: unknown
  /** Why it failed, when it did. */
  error: ErrorInfo | null
  /** When it started. */
  startedAt: string | null
  /** When it finished. */
  finishedAt: string | null
  /** How long it ran. */
  durationMs: number | null
}

/** Everything a viewer needs to render a run, folded by {@link reduceRun}. */
export interface RunState {
  /** The stream these events came from. */
  stream: string | null
  /** The run's status. */
  status: RunStatus
  /** The execution id the producer gave the run. */
  executionId: string | null
  /** The workflow the run executes. */
  workflowId: string | null
  /** How the run was started (`manual`, `trigger` ...). */
  mode: string | null
  /** Tasks in creation order. */
  tasks: TaskState[]
  /** Agents by role. */
  agents: Record<string, AgentState>
  /** Agent roles in the order they started. */
  agentOrder: string[]
  /** Nodes by id. */
  nodes: Record<string, NodeState>
  /** Node ids in the order they were announced or started. */
  nodeOrder: string[]
  /** When the run started. */
  startedAt: string | null
  /** When the run ended. */
  finishedAt: string | null
  /** How long the run took. */
  durationMs: number | null
  /** The run's output, when it completed with one. */
  output: unknown
  /** The last error reported by any task, agent, node or the run. */
  error: ErrorInfo | null
  /** Producer-defined information about the stream (a job's status, say). */
  meta: Record<string, unknown>
  /** The id of the last event folded in. */
  lastEventId: string | null
}

/** An empty, frozen record without prototype. */
const emptyRecord = <T>(): Record<string, T> => Object.freeze(Object.create(null))

/**
 * The state before any event: an idle run with nothing in it. Frozen, like every state's
 * records (`agents`, `nodes`, `meta`) it has no prototype, so a key named like an `Object`
 * member (`constructor`, `__proto__`, `toString`) reads as absent until it is set.
 */
export const initialRunState: RunState = Object.freeze({
  stream: null,
  status: 'idle',
  executionId: null,
  workflowId: null,
  mode: null,
  tasks: Object.freeze([]) as unknown as TaskState[],
  agents: emptyRecord<AgentState>(),
  agentOrder: Object.freeze([]) as unknown as string[],
  nodes: emptyRecord<NodeState>(),
  nodeOrder: Object.freeze([]) as unknown as string[],
  startedAt: null,
  finishedAt: null,
  durationMs: null,
  output: undefined,
  error: null,
  meta: emptyRecord<unknown>(),
  lastEventId: null,
}) as RunState

/** Schema of {@link ErrorInfo}. */
export const errorInfoSchema = z.object({
  /** A human-readable message. */
  message: z.string(),
  /** A machine-readable code, when the producer has one. */
  code: z.string().optional(),
})

/**
 * Schema of a record with string keys whose values match `value`, parsed into a record
 * without prototype. zod's `z.record` skips a `__proto__` key (it builds a plain object,
 * whose `__proto__` setter would replace the prototype), so a node or agent with that id
 * would vanish from a snapshot while its id stays in the order; this schema keeps every own
 * key, and issues keep their dotted paths (`nodes.constructor.status`).
 *
 * @param value - the schema of each value
 * @returns a schema whose output has no prototype
 */
export function ownRecordSchema<V extends z.ZodType>(
  value: V,
): z.ZodType<Record<string, z.output<V>>, Record<string, z.input<V>>> {
  return z.unknown().transform((input, ctx) => {
    const record: Record<string, z.output<V>> = Object.create(null)
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      ctx.addIssue({ code: 'invalid_type', expected: 'record', input })
      return z.NEVER
    }
    for (const key of Object.keys(input)) {
      const entry = (input as Record<string, unknown>)[key]
      const parsed = value.safeParse(entry)
      if (parsed.success) record[key] = parsed.data
      else for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: [key, ...issue.path] })
    }
    return record
  }) as unknown as z.ZodType<Record<string, z.output<V>>, Record<string, z.input<V>>>
}

const nullableString = z.string().nullable()
const nullableNumber = z.number().nullable()
// JSON drops a key whose value is undefined, so an output not produced yet is absent from a
// snapshot on the wire, and zod 4 rejects a missing z.unknown() key. The absent key reads as
// undefined, which the `unknown` field type already covers; the cast only keeps it required
// in the inferred type so the schema still matches RunState.
const outputSchema = z.unknown().optional() as unknown as z.ZodUnknown

/** Schema of {@link RunState}, used to validate snapshots that cross the wire. */
export const runStateSchema: z.ZodType<RunState> = z.object({
  stream: nullableString,
  status: z.enum(['idle', 'running', 'completed', 'failed', 'cancelled']),
  executionId: nullableString,
  workflowId: nullableString,
  mode: nullableString,
  tasks: z.array(
    z.object({
      id: z.string(),
      title: nullableString,
      description: nullableString,
      status: z.enum(['pending', 'in_progress', 'completed', 'failed', 'cancelled']),
      note: nullableString,
      percent: nullableNumber,
      error: errorInfoSchema.nullable(),
      durationMs: nullableNumber,
      meta: ownRecordSchema(z.unknown()),
      createdAt: z.string(),
      updatedAt: z.string(),
    }),
  ),
  agents: ownRecordSchema(
    z.object({
      role: z.string(),
      name: nullableString,
      description: nullableString,
      status: z.enum(['running', 'completed', 'failed']),
      message: nullableString,
      startedAt: nullableString,
      finishedAt: nullableString,
      durationMs: nullableNumber,
      hasArtifacts: z.boolean(),
      error: errorInfoSchema.nullable(),
    }),
  ),
  agentOrder: z.array(z.string()),
  nodes: ownRecordSchema(
    z.object({
      id: z.string(),
      name: nullableString,
      status: z.enum(['pending', 'running', 'completed', 'failed']),
      message: nullableString,
      percent: nullableNumber,
      output: outputSchema,
      error: errorInfoSchema.nullable(),
      startedAt: nullableString,
      finishedAt: nullableString,
      durationMs: nullableNumber,
    }),
  ),
  nodeOrder: z.array(z.string()),
  startedAt: nullableString,
  finishedAt: nullableString,
  durationMs: nullableNumber,
  output: outputSchema,
  error: errorInfoSchema.nullable(),
  meta: ownRecordSchema(z.unknown()),
  lastEventId: nullableString,
})
