/**
 * The reducer as it was before the indexed fold (an immutable copy per event, O(state) each),
 * kept as a model to check the fold against. Its only change is that records are read by own
 * keys (`Object.hasOwn`), so ids named like `Object` members (`constructor`, `__proto__`)
 * behave as ordinary ids; the spreads and computed keys below already define own keys.
 */
import type {
  AgentState,
  DefaultCatalog,
  ErrorInfo,
  EventOf,
  NodeState,
  ReducibleEvent,
  RunState,
  TaskState,
} from '../../src/core/index.js'
import { isSeenEventId } from '../../src/core/index.js'

/**
 * Folds one event into a run state, by copying.
 *
 * @param state - the state so far
 * @param event - the next event
 * @returns the state after the event
 */
export function referenceReduceRun(state: RunState, event: ReducibleEvent): RunState {
  // A reset is authoritative whatever its id: the hub sends one when the reader's cursor is
  // unknown to the log (a restarted hub numbers from 1 again), so its id may well be below
  // the reader's last id. It is written to one connection, never stored in the replay log.
  if (event.type !== 'stream.reset' && isSeenEventId(event.id, state.lastEventId)) return state
  const next = apply(state, event as EventOf<DefaultCatalog>)
  return { ...next, stream: event.stream, lastEventId: event.id }
}

function apply(state: RunState, event: EventOf<DefaultCatalog>): RunState {
  const ts = event.ts
  switch (event.type) {
    case 'stream.snapshot':
      return {
        ...event.data.state,
        meta: { ...event.data.state.meta, ...event.data.meta },
      }
    case 'stream.reset':
      return event.data.state

    case 'task.created':
    case 'task.updated':
    case 'task.status': {
      const { taskId, title, description, status, note, percent, meta } = event.data
      return upsertTask(state, taskId, ts, (task) => ({
        ...task,
        ...(title !== undefined && { title }),
        ...(description !== undefined && { description }),
        ...(status !== undefined && { status }),
        ...(note !== undefined && { note }),
        ...(percent !== undefined && { percent }),
        ...(meta !== undefined && { meta: { ...task.meta, ...meta } }),
      }))
    }
    case 'task.deleted':
      return { ...state, tasks: state.tasks.filter((task) => task.id !== event.data.taskId) }
    case 'task.progress': {
      const { note, percent } = event.data
      return upsertTask(state, event.data.taskId, ts, (task) => ({
        ...task,
        status: task.status === 'pending' ? 'in_progress' : task.status,
        ...(note !== undefined && { note }),
        ...(percent !== undefined && { percent }),
      }))
    }
    case 'task.completed': {
      const { note, durationMs } = event.data
      return upsertTask(state, event.data.taskId, ts, (task) => ({
        ...task,
        status: 'completed',
        percent: 100,
        durationMs: durationMs ?? elapsed(task.createdAt, ts),
        ...(note !== undefined && { note }),
      }))
    }
    case 'task.failed': {
      const error = event.data.error
      const withError = { ...state, error }
      if (event.data.taskId === undefined) return withError
      return upsertTask(withError, event.data.taskId, ts, (task) => ({ ...task, status: 'failed', error }))
    }

    case 'agent.started': {
      const { role, name, description } = event.data
      return upsertAgent(markRunning(state, ts), role, (agent) => ({
        ...agent,
        status: 'running',
        startedAt: ts,
        finishedAt: null,
        durationMs: null,
        error: null,
        ...(name !== undefined && { name }),
        ...(description !== undefined && { description }),
      }))
    }
    case 'agent.progress': {
      const { message } = event.data
      return upsertAgent(state, event.data.role, (agent) => ({
        ...agent,
        ...(message !== undefined && { message }),
      }))
    }
    case 'agent.completed': {
      const { durationMs, hasArtifacts } = event.data
      return upsertAgent(state, event.data.role, (agent) => ({
        ...agent,
        status: 'completed',
        finishedAt: ts,
        durationMs: durationMs ?? elapsed(agent.startedAt, ts),
        ...(hasArtifacts !== undefined && { hasArtifacts }),
      }))
    }
    case 'agent.failed': {
      const { durationMs, error } = event.data
      return upsertAgent({ ...state, error }, event.data.role, (agent) => ({
        ...agent,
        status: 'failed',
        finishedAt: ts,
        durationMs: durationMs ?? elapsed(agent.startedAt, ts),
        error,
      }))
    }

    case 'run.started': {
      const { executionId, workflowId, mode, nodes } = event.data
      let next: RunState = {
        ...state,
        status: 'running',
        startedAt: ts,
        finishedAt: null,
        durationMs: null,
        error: null,
        ...(executionId !== undefined && { executionId: String(executionId) }),
        ...(workflowId !== undefined && { workflowId: String(workflowId) }),
        ...(mode !== undefined && { mode }),
      }
      for (const node of nodes ?? []) {
        next = upsertNode(next, node.nodeId, (current) => ({
          ...current,
          ...(node.name !== undefined && { name: node.name }),
        }))
      }
      return next
    }
    case 'node.started': {
      const { name, message } = event.data
      return upsertNode(markRunning(state, ts), event.data.nodeId, (node) => ({
        ...node,
        status: 'running',
        startedAt: ts,
        finishedAt: null,
        durationMs: null,
        error: null,
        ...(name !== undefined && { name }),
        ...(message !== undefined && { message }),
      }))
    }
    case 'node.progress': {
      const { message, percent } = event.data
      return upsertNode(state, event.data.nodeId, (node) => ({
        ...node,
        status: node.status === 'pending' ? 'running' : node.status,
        ...(message !== undefined && { message }),
        ...(percent !== undefined && { percent }),
      }))
    }
    case 'node.completed': {
      const { name, message, output, durationMs } = event.data
      return upsertNode(state, event.data.nodeId, (node) => ({
        ...node,
        status: 'completed',
        finishedAt: ts,
        durationMs: durationMs ?? elapsed(node.startedAt, ts),
        output,
        percent: 100,
        ...(name !== undefined && { name }),
        ...(message !== undefined && { message }),
      }))
    }
    case 'node.failed': {
      const { name, message, output, error, durationMs } = event.data
      return upsertNode({ ...state, error }, event.data.nodeId, (node) => ({
        ...node,
        status: 'failed',
        finishedAt: ts,
        durationMs: durationMs ?? elapsed(node.startedAt, ts),
        error,
        ...(name !== undefined && { name }),
        ...(message !== undefined && { message }),
        ...(output !== undefined && { output }),
      }))
    }
    case 'run.completed':
      return finishRun(state, 'completed', ts, event.data.durationMs, state.error, event.data.output)
    case 'run.failed':
      return finishRun(state, 'failed', ts, event.data.durationMs, event.data.error, state.output)
    case 'run.cancelled':
      return finishRun(state, 'cancelled', ts, undefined, state.error, state.output)
    default:
      return state
  }
}

function markRunning(state: RunState, ts: string): RunState {
  return state.status === 'idle' ? { ...state, status: 'running', startedAt: state.startedAt ?? ts } : state
}

function finishRun(
  state: RunState,
  status: RunState['status'],
  ts: string,
  durationMs: number | undefined,
  error: ErrorInfo | null,
  output: unknown,
): RunState {
  return {
    ...state,
    status,
    finishedAt: ts,
    durationMs: durationMs ?? elapsed(state.startedAt, ts),
    error,
    output,
  }
}

function elapsed(from: string | null, to: string): number | null {
  if (from === null) return null
  const ms = Date.parse(to) - Date.parse(from)
  return Number.isFinite(ms) && ms >= 0 ? ms : null
}

function upsertTask(
  state: RunState,
  id: string,
  ts: string,
  update: (task: TaskState) => TaskState,
): RunState {
  const index = state.tasks.findIndex((task) => task.id === id)
  const current = state.tasks[index] ?? newTask(id, ts)
  const updated = { ...update(current), updatedAt: ts }
  const tasks = state.tasks.slice()
  if (index === -1) tasks.push(updated)
  else tasks[index] = updated
  return { ...state, tasks }
}

function newTask(id: string, ts: string): TaskState {
  return {
    id,
    title: null,
    description: null,
    status: 'pending',
    note: null,
    percent: null,
    error: null,
    durationMs: null,
    meta: {},
    createdAt: ts,
    updatedAt: ts,
  }
}

function upsertAgent(state: RunState, role: string, update: (agent: AgentState) => AgentState): RunState {
  const current = Object.hasOwn(state.agents, role) ? state.agents[role] : undefined
  const agent = update(
    current ?? {
      role,
      name: null,
      description: null,
      status: 'running',
      message: null,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      hasArtifacts: false,
      error: null,
    },
  )
  return {
    ...state,
    agents: { ...state.agents, [role]: agent },
    agentOrder: current ? state.agentOrder : [...state.agentOrder, role],
  }
}

function upsertNode(state: RunState, id: string, update: (node: NodeState) => NodeState): RunState {
  const current = Object.hasOwn(state.nodes, id) ? state.nodes[id] : undefined
  const node = update(
    current ?? {
      id,
      name: null,
      status: 'pending',
      message: null,
      percent: null,
      output: undefined,
      error: null,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
    },
  )
  return {
    ...state,
    nodes: { ...state.nodes, [id]: node },
    nodeOrder: current ? state.nodeOrder : [...state.nodeOrder, id],
  }
}
