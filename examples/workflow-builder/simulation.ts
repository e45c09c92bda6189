import { setTimeout as delay } from 'node:timers/promises'
import type { ExecutionContext } from 'taskwire/server'
import type { NodeScript, Workflow, WorkflowNode } from './workflow.js'

/** How a simulated execution plays out. */
export interface SimulationOptions {
  /** The chance, from 0 to 1, that each node fails. */
  readonly failureRate: number
  /** Seeds every random draw: the same seed and rate give the same run. */
  readonly seed: number
  /** Scales every delay: 1 is real time, 0 runs without pauses. */
  readonly pace: number
}

/** What was decided for a node before the run started. */
interface NodePlan {
  readonly durationMs: number
  /** The progress step at which it fails (the last step is completion), or null. */
  readonly failsAt: number | null
  /** A number in [0, 1) that shapes its output. */
  readonly sample: number
}

/** The last event of a run, for the server's log. */
export interface RunEnd {
  readonly type: string
  readonly id: string
}

/**
 * mulberry32: a tiny seeded generator, good enough to make simulated runs repeatable.
 *
 * @param seed - any 32-bit integer
 * @returns a function giving numbers in [0, 1)
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/**
 * Draws every node's duration, failure and output before the run starts, in the graph's
 * order: branches that run side by side finish in an order that depends on timing, so
 * drawing as they go would make a seeded run differ from one time to the next.
 */
function planRun(
  workflow: Workflow,
  scripts: Readonly<Record<string, NodeScript>>,
  options: SimulationOptions,
): Map<string, NodePlan> {
  const random = seededRandom(options.seed)
  const plans = new Map<string, NodePlan>()
  for (const node of workflow.nodes) {
    const script = scriptOf(scripts, node)
    const jitter = 0.75 + random() * 0.5
    const fails = random() < options.failureRate
    const failsAt = Math.floor(random() * (script.progress.length + 1))
    plans.set(node.id, {
      durationMs: script.baseMs * jitter * options.pace,
      failsAt: fails ? failsAt : null,
      sample: random(),
    })
  }
  return plans
}

function scriptOf(scripts: Readonly<Record<string, NodeScript>>, node: WorkflowNode): NodeScript {
  const script = scripts[node.id]
  if (!script) throw new Error(`No simulation script for node ${node.id}.`)
  return script
}

/**
 * Plays a workflow as an execution: each node starts once all the nodes feeding it have
 * completed (so the two branches of the demo run side by side), reports progress, and
 * completes or fails as planned. A failure stops the run from starting anything new: the
 * nodes already running finish, the ones downstream stay pending, and the run fails.
 *
 * @param workflow - the graph
 * @param scripts - what each node says
 * @param options - failure rate, seed and pace
 * @param context - the execution's `emit` and `signal`
 * @returns the run's terminal event, which this function emits itself
 */
export async function simulateWorkflow(
  workflow: Workflow,
  scripts: Readonly<Record<string, NodeScript>>,
  options: SimulationOptions,
  { emit, signal }: ExecutionContext,
): Promise<RunEnd> {
  const plans = planRun(workflow, scripts, options)
  const outputs = new Map<string, unknown>()
  let failure: { node: WorkflowNode; message: string } | undefined

  // Pace 0 skips the timers altogether; the cancel signal ends a pause at once.
  const pause = (ms: number): Promise<void> | undefined =>
    ms > 0 ? delay(ms, undefined, { signal }) : undefined

  const play = async (node: WorkflowNode): Promise<boolean> => {
    const script = scriptOf(scripts, node)
    const plan = plans.get(node.id) as NodePlan
    const steps = script.progress.length
    const stepMs = plan.durationMs / (steps + 1)
    await emit('node.started', { nodeId: node.id, name: node.name, message: script.started })
    for (let step = 0; step <= steps; step++) {
      await pause(stepMs)
      if (plan.failsAt === step) {
        failure ??= { node, message: script.failure }
        await emit('node.failed', {
          nodeId: node.id,
          name: node.name,
          message: `Failed: ${script.failure}`,
          error: { message: script.failure, code: 'node-failed' },
        })
        return false
      }
      const message = script.progress[step]
      if (message !== undefined) {
        const percent = Math.round(((step + 1) / (steps + 1)) * 100)
        await emit('node.progress', { nodeId: node.id, message, percent })
      }
    }
    const { message, output } = script.completed(plan.sample)
    outputs.set(node.id, output)
    await emit('node.completed', { nodeId: node.id, name: node.name, message, output })
    return true
  }

  // One promise per node, made once: it waits for the node's sources, then plays the node
  // unless a source did not complete or the run has already failed elsewhere.
  const outcomes = new Map<string, Promise<boolean>>()
  const outcome = (node: WorkflowNode): Promise<boolean> => {
    let result = outcomes.get(node.id)
    if (!result) {
      const sources = workflow.edges
        .filter((edge) => edge.target === node.id)
        .map((edge) => workflow.nodes.find((other) => other.id === edge.source) as WorkflowNode)
      result = Promise.all(sources.map(outcome)).then((completed) =>
        completed.every(Boolean) && failure === undefined ? play(node) : false,
      )
      outcomes.set(node.id, result)
    }
    return result
  }
  await Promise.all(workflow.nodes.map(outcome))

  if (failure) {
    return emit('run.failed', {
      error: { message: `${failure.node.name} failed: ${failure.message}`, code: 'node-failed' },
    })
  }
  // The workflow's result is what its last nodes (those nothing follows) produced.
  const sinks = workflow.nodes.filter((node) => !workflow.edges.some((edge) => edge.source === node.id))
  const output =
    sinks.length === 1
      ? outputs.get(sinks[0]?.id ?? '')
      : Object.fromEntries(sinks.map((node) => [node.id, outputs.get(node.id)]))
  return emit('run.completed', { output })
}
