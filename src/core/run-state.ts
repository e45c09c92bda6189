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
 * Builds {@link initialRunState}. A function called under a `@__PURE__` annotation, so that a
 * bundle that never reads the state drops it (tsup puts all of core in one chunk, where only
 * annotated top-level calls can be dropped).
 *
 * @returns the frozen initial state
 */
function createInitialRunState(): RunState {
  return Object.freeze({
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
}

/**
 * The state before any event: an idle run with nothing in it. Frozen, like every state's
 * records (`agents`, `nodes`, `meta`) it has no prototype, so a key named like an `Object`
 * member (`constructor`, `__proto__`, `toString`) reads as absent until it is set.
 */
export const initialRunState: RunState = /* @__PURE__ */ createInitialRunState()
