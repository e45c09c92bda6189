import { spawnSync } from 'node:child_process'
import { availableParallelism, cpus } from 'node:os'

/** The command that pins a process to a core (util-linux). */
export const TASKSET = 'taskset'

/** The machine a run measured on, printed with its results. */
export interface Machine {
  cores: number
  cpuModel: string
  node: string
  /** Whether the server and the load generator run pinned to cores 0 and 1. */
  pinned: boolean
}

/**
 * Describes this machine. Pinning needs `taskset` and two cores.
 *
 * @returns cores, CPU model, Node version and whether pinning is used
 */
export function describeMachine(): Machine {
  const cores = availableParallelism()
  const taskset = spawnSync(TASKSET, ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0
  return {
    cores,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    pinned: taskset && cores >= 2,
  }
}
