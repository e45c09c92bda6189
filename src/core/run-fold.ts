import type { Envelope, EventOf } from './catalog.js'
import type { DefaultCatalog } from './default-catalog.js'
import { isSeenEventId } from './event-id.js'
import {
  type AgentState,
  type ErrorInfo,
  initialRunState,
  type NodeState,
  type RunState,
  type TaskState,
} from './run-state.js'

/** An event a run fold takes: any default-catalog event, or any other envelope. */
export type ReducibleEvent = EventOf<DefaultCatalog> | Envelope

/**
 * A run state kept up to date in place, event by event, for long runs: each event costs the
 * same whatever the state holds (tasks are kept in an insertion-ordered `Map`, agents and
 * nodes in records copied only when written after a read of {@link RunFold.state}).
 */
export interface RunFold {
  /**
   * The state after every event applied so far, with the shape {@link reduceRun} returns.
   * The same object is returned until an applied event changes something, so it can key a
   * cache; later events never modify it. Treat it as read-only.
   */
  readonly state: RunState
  /**
   * The id of the last event applied (`state.lastEventId`), read without building `state`:
   * a server that folds every event asks it per event, and reads the state far less often.
   */
  readonly lastEventId: string | null
  /**
   * Folds one event in, with exactly the rules of {@link reduceRun}: an event whose id is not
   * after the last one is ignored, except `stream.reset`, which always replaces the state;
   * `stream.snapshot` replaces it and merges its `meta`; types the fold does not know only
   * advance `lastEventId`.
   *
   * @param event - the next event
   */
  apply(event: ReducibleEvent): void
}

/**
 * Creates a run fold: the in-place counterpart of {@link reduceRun}, for a process that
 * folds every event of a long run (a server keeping each stream's state). Applying an event
 * costs O(1) in the size of the state; reading {@link RunFold.state} after a change costs a
 * copy of the collections that changed.
 *
 * @param initial - the state to start from, {@link initialRunState} when absent; it is never
 *   modified, and its records are copied without prototype when they have one
 * @returns a fold whose `state` is `initial` itself until an event changes it (unless its
 *   records had to be copied)
 * @example
 * ```ts
 * const fold = createRunFold()
 * for (const event of events) fold.apply(event)
 * fold.state.tasks.length
 * ```
 */
export function createRunFold(initial: RunState = initialRunState): RunFold {
  return openRunFold(initial, true)
}

/**
 * Opens a fold with a chosen task storage. `reduceRun` folds one event and discards the fold,
 * so it scans the task array (as cheap as building an index it would use once); a long-lived
 * fold indexes tasks by id.
 *
 * @param initial - the state to start from; it is never modified
 * @param indexTasks - whether to index tasks by id
 * @returns a fold
 */
export function openRunFold(initial: RunState, indexTasks: boolean): RunFold {
  return new Fold(initial, indexTasks)
}

/**
 * Tells whether a fold ignores an event: one whose id is not after the last one folded in,
 * unless it is a `stream.reset`. A reset is authoritative whatever its id: the hub sends one
 * when the reader's cursor is unknown to the log (a restarted hub numbers from 1 again), so
 * its id may well be below the reader's last id. It is written to one connection, never
 * stored in the replay log.
 *
 * @param event - the incoming event
 * @param lastEventId - the id of the last event folded in
 * @returns true when the event changes nothing
 */
export function isIgnoredEvent(event: ReducibleEvent, lastEventId: string | null): boolean {
  return event.type !== 'stream.reset' && isSeenEventId(event.id, lastEventId)
}

/** The scalar fields of a run state: everything but its collections. */
type RunHead = Omit<RunState, 'tasks' | 'agents' | 'agentOrder' | 'nodes' | 'nodeOrder' | 'meta'>

type Entries<T> = Record<string, T>

class Fold implements RunFold {
  #head!: RunHead
  #meta!: Entries<unknown>
  #tasks!: TaskStore
  #agents!: Registry<AgentState>
  #nodes!: Registry<NodeState>
  #state: RunState | undefined
  readonly #indexTasks: boolean

  constructor(initial: RunState, indexTasks: boolean) {
    this.#indexTasks = indexTasks
    // A state already in the fold's own shape is its own materialization, so folding
    // nothing (or only ignored events) hands back the very object given.
    if (this.#seed(initial, initial.meta)) this.#state = initial
  }

  get lastEventId(): string | null {
    return this.#head.lastEventId
  }

  get state(): RunState {
    if (this.#state) return this.#state
    const head = this.#head
    const agents = this.#agents.share()
    const nodes = this.#nodes.share()
    this.#state = {
      stream: head.stream,
      status: head.status,
      executionId: head.executionId,
      workflowId: head.workflowId,
      mode: head.mode,
      tasks: this.#tasks.share(),
      agents: agents.entries,
      agentOrder: agents.order,
      nodes: nodes.entries,
      nodeOrder: nodes.order,
      startedAt: head.startedAt,
      finishedAt: head.finishedAt,
      durationMs: head.durationMs,
      output: head.output,
      error: head.error,
      meta: this.#meta,
      lastEventId: head.lastEventId,
    }
    return this.#state
  }

  apply(event: ReducibleEvent): void {
    if (isIgnoredEvent(event, this.#head.lastEventId)) return
    this.#fold(event as EventOf<DefaultCatalog>)
    this.#head.stream = event.stream
    this.#head.lastEventId = event.id
    this.#state = undefined
  }

  /**
   * Replaces everything with `state`, whose records may come from JSON (with a prototype, and
   * own keys such as `__proto__`). Returns whether every collection was taken as it was.
   */
  #seed(state: RunState, meta: Entries<unknown>): boolean {
    this.#head = {
      stream: state.stream,
      status: state.status,
      executionId: state.executionId,
      workflowId: state.workflowId,
      mode: state.mode,
      startedAt: state.startedAt,
      finishedAt: state.finishedAt,
      durationMs: state.durationMs,
      output: state.output,
      error: state.error,
      lastEventId: state.lastEventId,
    }
    this.#meta = ownEntries(meta)
    // A long-lived fold gives every task's meta no prototype now; reduceRun, which would pay
    // that scan on each call, gives it to the tasks it writes.
    const tasks = this.#indexTasks ? ownTaskMeta(state.tasks) : state.tasks
    this.#tasks = this.#indexTasks ? new IndexedTasks(tasks) : new ScannedTasks(tasks)
    const agents = ownEntries(state.agents)
    this.#agents = new Registry(agents, state.agentOrder, agents !== state.agents)
    const nodes = ownEntries(state.nodes)
    this.#nodes = new Registry(nodes, state.nodeOrder, nodes !== state.nodes)
    return (
      this.#meta === state.meta && tasks === state.tasks && agents === state.agents && nodes === state.nodes
    )
  }

  #fold(event: EventOf<DefaultCatalog>): void {
    const head = this.#head
    const ts = event.ts
    switch (event.type) {
      case 'stream.snapshot': {
        const { state, meta } = event.data
        this.#seed(state, mergeEntries(state.meta, meta))
        return
      }
      case 'stream.reset':
        this.#seed(event.data.state, event.data.state.meta)
        return

      case 'task.created':
      case 'task.updated':
      case 'task.status': {
        const { taskId, title, description, status, note, percent, meta } = event.data
        this.#upsertTask(taskId, ts, (task) => {
          if (title !== undefined) task.title = title
          if (description !== undefined) task.description = description
          if (status !== undefined) task.status = status
          if (note !== undefined) task.note = note
          if (percent !== undefined) task.percent = percent
          if (meta !== undefined) task.meta = mergeEntries(task.meta, meta)
        })
        return
      }
      case 'task.deleted':
        this.#tasks.delete(event.data.taskId)
        return
      case 'task.progress': {
        const { note, percent } = event.data
        this.#upsertTask(event.data.taskId, ts, (task) => {
          if (task.status === 'pending') task.status = 'in_progress'
          if (note !== undefined) task.note = note
          if (percent !== undefined) task.percent = percent
        })
        return
      }
      case 'task.completed': {
        const { note, durationMs } = event.data
        this.#upsertTask(event.data.taskId, ts, (task) => {
          task.status = 'completed'
          task.percent = 100
          task.durationMs = durationMs ?? elapsed(task.createdAt, ts)
          if (note !== undefined) task.note = note
        })
        return
      }
      case 'task.failed': {
        const error = event.data.error
        head.error = error
        if (event.data.taskId !== undefined) {
          this.#upsertTask(event.data.taskId, ts, (task) => {
            task.status = 'failed'
            task.error = error
          })
        }
        return
      }

      case 'agent.started': {
        const { role, name, description } = event.data
        this.#markRunning(ts)
        this.#upsertAgent(role, (agent) => {
          agent.status = 'running'
          agent.startedAt = ts
          agent.finishedAt = null
          agent.durationMs = null
          agent.error = null
          if (name !== undefined) agent.name = name
          if (description !== undefined) agent.description = description
        })
        return
      }
      case 'agent.progress': {
        const { message } = event.data
        this.#upsertAgent(event.data.role, (agent) => {
          if (message !== undefined) agent.message = message
        })
        return
      }
      case 'agent.completed': {
        const { durationMs, hasArtifacts } = event.data
        this.#upsertAgent(event.data.role, (agent) => {
          agent.status = 'completed'
          agent.finishedAt = ts
          agent.durationMs = durationMs ?? elapsed(agent.startedAt, ts)
          if (hasArtifacts !== undefined) agent.hasArtifacts = hasArtifacts
        })
        return
      }
      case 'agent.failed': {
        const { durationMs, error } = event.data
        head.error = error
        this.#upsertAgent(event.data.role, (agent) => {
          agent.status = 'failed'
          agent.finishedAt = ts
          agent.durationMs = durationMs ?? elapsed(agent.startedAt, ts)
          agent.error = error
        })
        return
      }

      case 'run.started': {
        const { executionId, workflowId, mode, nodes } = event.data
        head.status = 'running'
        head.startedAt = ts
        head.finishedAt = null
        head.durationMs = null
        head.error = null
        if (executionId !== undefined) head.executionId = String(executionId)
        if (workflowId !== undefined) head.workflowId = String(workflowId)
        if (mode !== undefined) head.mode = mode
        for (const node of nodes ?? []) {
          this.#upsertNode(node.nodeId, (current) => {
            if (node.name !== undefined) current.name = node.name
          })
        }
        return
      }
      case 'node.started': {
        const { name, message } = event.data
        this.#markRunning(ts)
        this.#upsertNode(event.data.nodeId, (node) => {
          node.status = 'running'
          node.startedAt = ts
          node.finishedAt = null
          node.durationMs = null
          node.error = null
          if (name !== undefined) node.name = name
          if (message !== undefined) node.message = message
        })
        return
      }
      case 'node.progress': {
        const { message, percent } = event.data
        this.#upsertNode(event.data.nodeId, (node) => {
          if (node.status === 'pending') node.status = 'running'
          if (message !== undefined) node.message = message
          if (percent !== undefined) node.percent = percent
        })
        return
      }
      case 'node.completed': {
        const { name, message, output, durationMs } = event.data
        this.#upsertNode(event.data.nodeId, (node) => {
          node.status = 'completed'
          node.finishedAt = ts
          node.durationMs = durationMs ?? elapsed(node.startedAt, ts)
          node.output = output
          node.percent = 100
          if (name !== undefined) node.name = name
          if (message !== undefined) node.message = message
        })
        return
      }
      case 'node.failed': {
        const { name, message, output, error, durationMs } = event.data
        head.error = error
        this.#upsertNode(event.data.nodeId, (node) => {
          node.status = 'failed'
          node.finishedAt = ts
          node.durationMs = durationMs ?? elapsed(node.startedAt, ts)
          node.error = error
          if (name !== undefined) node.name = name
          if (message !== undefined) node.message = message
          if (output !== undefined) node.output = output
        })
        return
      }
      case 'run.completed':
        this.#finishRun('completed', ts, event.data.durationMs, head.error, event.data.output)
        return
      case 'run.failed':
        this.#finishRun('failed', ts, event.data.durationMs, event.data.error, head.output)
        return
      case 'run.cancelled':
        this.#finishRun('cancelled', ts, undefined, head.error, head.output)
        return
      default:
        return
    }
  }

  #markRunning(ts: string): void {
    if (this.#head.status !== 'idle') return
    this.#head.status = 'running'
    this.#head.startedAt = this.#head.startedAt ?? ts
  }

  #finishRun(
    status: RunState['status'],
    ts: string,
    durationMs: number | undefined,
    error: ErrorInfo | null,
    output: unknown,
  ): void {
    const head = this.#head
    head.status = status
    head.finishedAt = ts
    head.durationMs = durationMs ?? elapsed(head.startedAt, ts)
    head.error = error
    head.output = output
  }

  // Each update writes a copy: a record handed out in an earlier state is never changed.
  #upsertTask(id: string, ts: string, update: (task: TaskState) => void): void {
    this.#tasks.upsert(id, (current) => {
      const task = current ? { ...current } : newTask(id, ts)
      if (!hasNoPrototype(task.meta)) task.meta = copyEntries(task.meta)
      update(task)
      task.updatedAt = ts
      return task
    })
  }

  #upsertAgent(role: string, update: (agent: AgentState) => void): void {
    const current = this.#agents.get(role)
    const agent: AgentState = current
      ? { ...current }
      : {
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
        }
    update(agent)
    this.#agents.set(role, agent)
  }

  #upsertNode(id: string, update: (node: NodeState) => void): void {
    const current = this.#nodes.get(id)
    const node: NodeState = current
      ? { ...current }
      : {
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
        }
    update(node)
    this.#nodes.set(id, node)
  }
}

function elapsed(from: string | null, to: string): number | null {
  if (from === null) return null
  const ms = Date.parse(to) - Date.parse(from)
  return Number.isFinite(ms) && ms >= 0 ? ms : null
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
    meta: Object.create(null),
    createdAt: ts,
    updatedAt: ts,
  }
}

/**
 * Entries by key (agents by role, nodes by id) and the order keys were first written in. The
 * record has no prototype, so a key named like an `Object` member (`constructor`,
 * `__proto__`, `toString`) is an ordinary key; records from elsewhere are read by own keys
 * only. Record and order are copied on the first write after {@link Registry.share} handed
 * them out, and written in place otherwise.
 */
class Registry<T> {
  #entries: Entries<T>
  #order: string[]
  #entriesOwned: boolean
  #orderOwned = false

  /**
   * @param entries - a record without prototype
   * @param order - the keys in the order they were first written
   * @param owned - whether `entries` is the registry's own copy, to write in place
   */
  constructor(entries: Entries<T>, order: readonly string[], owned: boolean) {
    this.#entries = entries
    this.#entriesOwned = owned
    this.#order = order as string[]
  }

  get(key: string): T | undefined {
    return Object.hasOwn(this.#entries, key) ? this.#entries[key] : undefined
  }

  set(key: string, value: T): void {
    const added = !Object.hasOwn(this.#entries, key)
    if (!this.#entriesOwned) {
      this.#entries = copyEntries(this.#entries)
      this.#entriesOwned = true
    }
    this.#entries[key] = value
    if (!added) return
    if (!this.#orderOwned) {
      this.#order = this.#order.slice()
      this.#orderOwned = true
    }
    this.#order.push(key)
  }

  /** Hands out the record and the order; the next write copies them. */
  share(): { entries: Entries<T>; order: string[] } {
    this.#entriesOwned = false
    this.#orderOwned = false
    return { entries: this.#entries, order: this.#order }
  }
}

/** Tasks in creation order, found by id. */
interface TaskStore {
  /** Replaces the first task with this id by `update(it)`, or appends `update(undefined)`. */
  upsert(id: string, update: (current: TaskState | undefined) => TaskState): void
  /** Removes every task with this id. */
  delete(id: string): void
  /** The tasks as an array that later writes leave untouched. */
  share(): TaskState[]
}

/** Tasks in an array scanned by id: for a fold that applies one event (`reduceRun`). */
class ScannedTasks implements TaskStore {
  #tasks: TaskState[]
  #owned = false

  constructor(tasks: readonly TaskState[]) {
    this.#tasks = tasks as TaskState[]
  }

  upsert(id: string, update: (current: TaskState | undefined) => TaskState): void {
    const index = this.#tasks.findIndex((task) => task.id === id)
    const task = update(this.#tasks[index])
    if (!this.#owned) {
      this.#tasks = this.#tasks.slice()
      this.#owned = true
    }
    if (index === -1) this.#tasks.push(task)
    else this.#tasks[index] = task
  }

  delete(id: string): void {
    this.#tasks = this.#tasks.filter((task) => task.id !== id)
    this.#owned = true
  }

  share(): TaskState[] {
    this.#owned = false
    return this.#tasks
  }
}

/**
 * Tasks in an insertion-ordered `Map` by id, so finding, updating, appending and deleting a
 * task is O(1); the array is rebuilt when read after a change. A state from elsewhere may
 * repeat an id: the first is the one events update, the others keep their places under keys
 * of their own until their id is deleted, as in an array.
 */
class IndexedTasks implements TaskStore {
  #tasks: TaskState[]
  #byId: Map<string | object, TaskState> | undefined
  #repeats: Map<string, object[]> | undefined
  #changed = false

  constructor(tasks: readonly TaskState[]) {
    this.#tasks = tasks as TaskState[]
  }

  upsert(id: string, update: (current: TaskState | undefined) => TaskState): void {
    const byId = this.#index()
    byId.set(id, update(byId.get(id)))
    this.#changed = true
  }

  delete(id: string): void {
    const byId = this.#index()
    if (byId.delete(id)) this.#changed = true
    for (const key of this.#repeats?.get(id) ?? []) byId.delete(key)
    this.#repeats?.delete(id)
  }

  share(): TaskState[] {
    if (this.#changed && this.#byId) this.#tasks = Array.from(this.#byId.values())
    this.#changed = false
    return this.#tasks
  }

  /** Builds the index on first use, so a fold that never sees a task event never pays it. */
  #index(): Map<string | object, TaskState> {
    if (this.#byId) return this.#byId
    const byId = new Map<string | object, TaskState>()
    for (const task of this.#tasks) {
      if (!byId.has(task.id)) {
        byId.set(task.id, task)
        continue
      }
      const key = {}
      byId.set(key, task)
      this.#repeats ??= new Map()
      this.#repeats.set(task.id, [...(this.#repeats.get(task.id) ?? []), key])
    }
    this.#byId = byId
    return byId
  }
}

/**
 * Gives each task's `meta` no prototype, copying only the tasks whose `meta` has one.
 *
 * @param tasks - tasks as found in a state
 * @returns the same array when nothing needed a copy
 */
function ownTaskMeta(tasks: readonly TaskState[]): readonly TaskState[] {
  let copy: TaskState[] | undefined
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i] as TaskState
    if (hasNoPrototype(task.meta)) continue
    copy ??= tasks.slice()
    copy[i] = { ...task, meta: copyEntries(task.meta) }
  }
  return copy ?? tasks
}

function hasNoPrototype(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null
}

/**
 * Returns a record without prototype holding the own enumerable entries of `entries`
 * (including an own `__proto__` key, as `JSON.parse` makes); `entries` itself when it already
 * has no prototype.
 */
function ownEntries<T>(entries: Entries<T> | undefined): Entries<T> {
  return hasNoPrototype(entries) ? (entries as Entries<T>) : copyEntries(entries)
}

/** Copies the own enumerable entries of each source, in order, into a record without prototype. */
function copyEntries<T>(...sources: (Entries<T> | undefined)[]): Entries<T> {
  const target: Entries<T> = Object.create(null)
  // Assigning `__proto__` on an object without prototype defines an own key: there is no
  // inherited setter to call.
  for (const source of sources) {
    if (source === undefined || source === null) continue
    for (const key of Object.keys(source)) target[key] = source[key] as T
  }
  return target
}

/** A new record without prototype: the entries of `base`, overwritten by those of `changes`. */
function mergeEntries(base: Entries<unknown>, changes: Entries<unknown> | undefined): Entries<unknown> {
  return copyEntries(base, changes)
}
