import type { ExecutionContext } from 'taskwire/server'

/** One node of a flow: what the editor draws, and what the executor runs. */
export interface FlowNode {
  /** The node's key within the flow (`gemini`). */
  readonly id: string
  /** The name the editor shows, and the `nodeName` of the legacy events (`Gemini AI`). */
  readonly name: string
  /** The node type, as a flow editor names it. */
  readonly type: string
  /** How long the simulated work takes at pace 1, in milliseconds. */
  readonly workMs: number
  /**
   * The simulated work: receives the previous node's output and returns this node's.
   * Throws to fail the node.
   */
  readonly execute: (input: unknown) => unknown
}

/** A saved flow: nodes executed one after the other, each fed the previous one's output. */
export interface Flow {
  readonly id: string
  readonly name: string
  readonly nodes: readonly FlowNode[]
}

const trigger: FlowNode = {
  id: 'manual-trigger',
  name: 'Manual Trigger',
  type: 'trigger.manual',
  workMs: 150,
  execute: (input) => input,
}

const httpRequest: FlowNode = {
  id: 'http-request',
  name: 'HTTP Request',
  type: 'http.request',
  workMs: 700,
  execute: () => ({
    status: 200,
    body: { title: 'Release notes', text: 'Nodes now report their progress while they run.' },
  }),
}

const gemini: FlowNode = {
  id: 'gemini',
  name: 'Gemini AI',
  type: 'ai.gemini',
  workMs: 1400,
  execute: () => ({ response: 'Hello world', model: 'gemini-2.5-flash' }),
}

const formatOutput: FlowNode = {
  id: 'format-output',
  name: 'Format Output',
  type: 'transform.format',
  workMs: 250,
  execute: (input) => ({ text: `Summary: ${(input as { response?: string }).response ?? ''}` }),
}

/** The flows a fresh server holds: one that succeeds, one whose AI node is not configured. */
export const seedFlows: readonly Flow[] = [
  { id: 'demo', name: 'Summarise release notes', nodes: [trigger, httpRequest, gemini, formatOutput] },
  {
    id: 'broken',
    name: 'Summarise without an API key',
    nodes: [
      trigger,
      httpRequest,
      {
        ...gemini,
        workMs: 500,
        execute: () => {
          throw new Error('API key not configured')
        },
      },
      formatOutput,
    ],
  },
]

/** Resolves after `ms`, or rejects as soon as `signal` aborts (the run was cancelled). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', abort)
      resolve()
    }, ms)
    const abort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', abort, { once: true })
  })
}

/**
 * Executes a flow's nodes in order, emitting `node.started` before each and `node.completed`
 * or `node.failed` after it. A failed node stops the flow: the error thrown here becomes the
 * run's `run.failed`, and a normal return its `run.completed`.
 *
 * @param flow - the flow to run
 * @param inputData - what the trigger node receives
 * @param context - the execution's `emit` and `signal`
 * @param pace - scales every node's simulated work (0 = no delay)
 * @returns the last node's output
 */
export async function executeFlow(
  flow: Flow,
  inputData: Record<string, unknown>,
  { emit, signal }: ExecutionContext,
  pace: number,
): Promise<unknown> {
  let data: unknown = inputData
  for (const node of flow.nodes) {
    await emit('node.started', { nodeId: node.id, name: node.name })
    const started = Date.now()
    await pause(node.workMs * pace, signal)
    try {
      data = node.execute(data)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      await emit('node.failed', {
        nodeId: node.id,
        name: node.name,
        error: { message },
        durationMs: Date.now() - started,
      })
      throw new Error(`${node.name}: ${message}`)
    }
    await emit('node.completed', {
      nodeId: node.id,
      name: node.name,
      output: data,
      durationMs: Date.now() - started,
    })
  }
  return data
}
