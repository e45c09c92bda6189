import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'

/** A playground script running in a child process, as `npm start` or `start:cluster` runs it. */
export interface ForkedScript {
  readonly child: ChildProcess
  /** `http://127.0.0.1:<port>`, from the port the script reports once it listens. */
  readonly origin: string
  /** Everything it printed so far, stdout and stderr. */
  output(): string
  /** Sends SIGTERM (when still running) and resolves with the exit code. */
  stop(): Promise<number | null>
}

/**
 * Runs a playground script with tsx, as the npm scripts do, and waits until it listens.
 *
 * @param file - the script's path
 * @param env - variables on top of this process's
 * @returns the running script
 */
export async function forkScript(file: string, env: Record<string, string>): Promise<ForkedScript> {
  const child = fork(file, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  let output = ''
  const keep = (chunk: Buffer): void => {
    output += chunk.toString()
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = once(child, 'exit') as Promise<[number | null]>
  const listening = once(child, 'message') as Promise<[{ listening: string }]>
  const [message] = await Promise.race([
    listening,
    exited.then(([code]) => {
      throw new Error(`${file} exited (${code}) before listening:\n${output}`)
    }),
  ])
  return {
    child,
    origin: `http://127.0.0.1:${message.listening}`,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const [code] = await exited
      return code
    },
  }
}
