import { setTimeout as delay } from 'node:timers/promises'
import type { ExecutionContext } from '../../src/server/index.js'

/** One step of the simulated run: an event to publish. */
type Step = (context: ExecutionContext) => Promise<unknown>

/** The events of a small agent run (an agent team's shape): one task worked on by two agents. */
const steps: Step[] = [
  ({ emit }) =>
    emit('task.created', { taskId: 'task-1', title: 'Add a dark mode toggle', status: 'pending' }),
  ({ emit }) => emit('task.status', { taskId: 'task-1', status: 'in_progress' }),
  ({ emit }) =>
    emit('agent.started', {
      role: 'planner',
      taskId: 'task-1',
      name: 'Planner',
      description: 'Plan the change',
    }),
  ({ emit }) => emit('agent.completed', { role: 'planner', taskId: 'task-1', durationMs: 1000 }),
  ({ emit }) =>
    emit('agent.started', { role: 'coder', taskId: 'task-1', name: 'Coder', description: 'Write it' }),
  ({ emit }) => emit('agent.progress', { role: 'coder', message: 'Editing theme.ts', percent: 50 }),
  ({ emit }) =>
    emit('agent.completed', { role: 'coder', taskId: 'task-1', durationMs: 2000, hasArtifacts: true }),
  ({ emit }) => emit('task.completed', { taskId: 'task-1', note: 'Toggle added', outputs: 1 }),
]

/** The number of events {@link simulatedRun} publishes itself (the runner adds two). */
export const simulatedRunSteps = steps.length

/**
 * The work of a simulated agent run, for `startExecution`: it publishes one event every
 * `stepMs` and resolves with the run's output, which the runner sends in `run.completed`.
 *
 * @param stepMs - the pause before each event, in milliseconds
 * @returns the `run` function of `startExecution`'s options
 */
export function simulatedRun(stepMs: number): (context: ExecutionContext) => Promise<{ files: number }> {
  return async (context) => {
    for (const step of steps) {
      // The execution's signal ends the pause at once when the run is cancelled.
      await delay(stepMs, undefined, { signal: context.signal })
      await step(context)
    }
    return { files: 1 }
  }
}
