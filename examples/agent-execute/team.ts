import { setTimeout as sleep } from 'node:timers/promises'
import type { ExecutionContext } from 'taskwire/server'

/** One member of the team: what the cards show, and the script its simulation follows. */
export interface Agent {
  readonly role: string
  readonly name: string
  /** What it does; sent in `agent.started`. */
  readonly description: string
  /** Whether its output includes files (a plan, components, endpoints). */
  readonly hasArtifacts: boolean
  /** The progress messages it sends, each after a pause in milliseconds (at pace 1). */
  readonly steps: readonly (readonly [message: string, ms: number])[]
  /** When set, the agent fails with this error after its steps. */
  readonly failure?: { readonly message: string; readonly code: string }
}

/**
 * The seeded team. Each agent takes one to three seconds at pace 1; `flaky` always fails the
 * same way, like a provider that answers 429, so a failed card can be shown (and tested)
 * on demand.
 */
export const TEAM: readonly Agent[] = [
  {
    role: 'tech-lead',
    name: 'Technical Lead',
    description: 'Designing the architecture',
    hasArtifacts: true,
    steps: [
      ['Reading the task…', 400],
      ['Designing the architecture…', 700],
      ['Writing the technical plan…', 500],
    ],
  },
  {
    role: 'frontend',
    name: 'Frontend Developer',
    description: 'Building the user interface',
    hasArtifacts: true,
    steps: [
      ['Reviewing the technical plan…', 300],
      ['Writing React components…', 800],
      ['Styling the page…', 600],
      ['Adding component tests…', 500],
    ],
  },
  {
    role: 'backend',
    name: 'Backend Developer',
    description: 'Implementing the API',
    hasArtifacts: true,
    steps: [
      ['Reviewing the technical plan…', 300],
      ['Designing the database schema…', 900],
      ['Writing the API endpoints…', 800],
    ],
  },
  {
    role: 'qa',
    name: 'QA Engineer',
    description: 'Reviewing quality',
    hasArtifacts: false,
    steps: [
      ['Reading the changes…', 300],
      ['Writing a test plan…', 500],
      ['Running the checks…', 600],
    ],
  },
  {
    role: 'flaky',
    name: 'Flaky Agent',
    description: 'Calling a rate-limited AI provider',
    hasArtifacts: false,
    steps: [
      ['Calling the AI provider…', 400],
      ['Retrying after a 429…', 600],
    ],
    failure: { message: 'API rate limit exceeded', code: 'rate-limited' },
  },
]

export const ROLES = TEAM.map((agent) => agent.role)

const agentOf = (role: string): Agent => {
  const agent = TEAM.find((candidate) => candidate.role === role)
  if (!agent) throw new Error(`No agent ${role}.`)
  return agent
}

/** What a client asks for; validated by the route before a run starts. */
export interface TeamTask {
  readonly taskDescription: string
  readonly selectedAgents: readonly string[]
  readonly executionMode: 'sequential' | 'parallel'
  readonly provider: string
}

/** The run's output (`run.completed`'s `output`): the task and how many outputs it produced. */
interface TeamOutput {
  readonly taskId: string
  readonly outputs: number
}

/**
 * The team's work as a `startExecution` run: `task.created`, each agent's
 * `agent.started` / `agent.progress` / `agent.completed` or `agent.failed`, then
 * `task.completed` (the run completes with `{ taskId, outputs }`) or, when an agent failed,
 * `task.failed` (and the run fails with the same error). A failed agent does not stop the
 * others: every selected agent reports, so every card ends green or red.
 *
 * @param task - the validated request
 * @param pace - scales every pause (0: none)
 * @returns the run function
 */
export function teamRun(task: TeamTask, pace: number) {
  return async ({ emit, signal }: ExecutionContext): Promise<TeamOutput> => {
    const taskId = globalThis.crypto.randomUUID()
    const started = performance.now()
    // Cancelling the execution aborts `signal`: the pause rejects and the agents stop.
    const pause = (ms: number) => (ms * pace > 0 ? sleep(ms * pace, undefined, { signal }) : undefined)

    await emit('task.created', {
      taskId,
      title: titleOf(task.taskDescription),
      description: task.taskDescription,
      status: 'in_progress',
      meta: {
        selectedAgents: [...task.selectedAgents],
        executionMode: task.executionMode,
        provider: task.provider,
      },
    })

    const runAgent = async (role: string): Promise<'completed' | 'failed'> => {
      const agent = agentOf(role)
      const since = performance.now()
      await emit('agent.started', { taskId, role, name: agent.name, description: agent.description })
      for (const [message, ms] of agent.steps) {
        await pause(ms)
        await emit('agent.progress', { taskId, role, message })
      }
      const durationMs = Math.round(performance.now() - since)
      if (agent.failure) {
        await emit('agent.failed', { taskId, role, error: agent.failure, durationMs })
        return 'failed'
      }
      await emit('agent.completed', { taskId, role, durationMs, hasArtifacts: agent.hasArtifacts })
      return 'completed'
    }

    const outcomes: ('completed' | 'failed')[] = []
    if (task.executionMode === 'parallel') {
      outcomes.push(...(await Promise.all(task.selectedAgents.map(runAgent))))
    } else {
      // Each agent starts once the previous one has reported.
      for (const role of task.selectedAgents) outcomes.push(await runAgent(role))
    }

    const durationMs = Math.round(performance.now() - started)
    const failed = task.selectedAgents.filter((_, index) => outcomes[index] === 'failed')
    if (failed.length > 0) {
      const error = {
        message: `${failed.length} of ${outcomes.length} agents failed: ${failed.join(', ')}.`,
        code: 'agent-failed',
      }
      await emit('task.failed', { taskId, error })
      // The runner publishes run.failed with this message and code.
      throw Object.assign(new Error(error.message), { code: error.code })
    }
    const outputs = outcomes.length
    await emit('task.completed', { taskId, durationMs, outputs })
    return { taskId, outputs }
  }
}

/** A title from the description's first line, shortened as a task list shows it. */
function titleOf(description: string): string {
  const line = description.split('\n', 1)[0]?.trim() ?? ''
  return line.length > 60 ? `${line.slice(0, 59)}…` : line
}
