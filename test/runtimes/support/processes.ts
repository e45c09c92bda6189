import { type ChildProcess, spawn } from 'node:child_process'
import type { Readable } from 'node:stream'

/** A process a suite started: its output so far, and a way to end it with everything it spawned. */
export interface RuntimeProcess {
  readonly child: ChildProcess
  /** What it printed, stdout and stderr, for failure messages. */
  output(): string
  /** Kills its process group and waits for the exit. */
  stop(): Promise<void>
}

/** Where and how a process runs. */
export interface ProcessOptions {
  readonly cwd: string
  readonly env?: NodeJS.ProcessEnv | undefined
  /** Opens descriptor 3 as a pipe the process writes to (workerd's `--control-fd`). */
  readonly controlPipe?: boolean | undefined
}

/** Where and how a process runs. */
export interface ProcessOptions {
  readonly cwd: string
  readonly env?: NodeJS.ProcessEnv | undefined
  /** Opens descriptor 3 as a pipe the process writes to (workerd's `--control-fd`). */
  readonly controlPipe?: boolean | undefined
}

/**
 * Spawns a command in a process group of its own, so that stopping it also ends what it
 * spawned (the `deno` wrapper's binary, Next's workers).
 *
 * @param command - the executable
 * @param args - its arguments
 * @param options - its folder and environment; `controlPipe` adds a pipe as descriptor 3
 * @returns the running process, stdout and stderr piped
 */
export function startProcess(
  command: string,
  args: readonly string[],
  options: ProcessOptions,
): RuntimeProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: options.controlPipe ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let text = ''
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => (text += chunk))
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  return {
    child,
    output: () => text,
    async stop() {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {
          // The group is gone already.
        }
      }
      await exited
    },
  }
}

/**
 * Waits until a stream of the process has printed text matching `pattern`.
 *
 * @param process - the process
 * @param stream - which of its streams to read
 * @param pattern - what to wait for; its first group is returned
 * @param timeoutMs - how long to wait before failing with the output
 * @returns the first group of the match
 */
export function waitForOutput(
  process: RuntimeProcess,
  stream: Readable | null | undefined,
  pattern: RegExp,
  timeoutMs: number,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => fail(`nothing matched ${pattern} after ${timeoutMs} ms`), timeoutMs)
    const onData = (chunk: Buffer): void => {
      seen += chunk
      const match = pattern.exec(seen)
      if (!match) return
      clearTimeout(timer)
      stream?.off('data', onData)
      process.child.off('exit', onExit)
      resolve(match[1] ?? match[0])
    }
    const onExit = (code: number | null): void => fail(`the process exited with ${code}`)
    const fail = (why: string): void => {
      clearTimeout(timer)
      stream?.off('data', onData)
      reject(new Error(`${why}; it printed:\n${process.output()}`))
    }
    stream?.on('data', onData)
    process.child.once('exit', onExit)
  })
}

/**
 * Starts a server that prints `listening <port>` (or Next's `http://127.0.0.1:<port>`).
 *
 * @param command - the executable
 * @param args - its arguments
 * @param options - cwd and env
 * @param timeoutMs - how long it may take to listen
 * @returns the process and its origin, `http://127.0.0.1:<port>`
 */
export async function startServer(
  command: string,
  args: readonly string[],
  options: ProcessOptions,
  timeoutMs = 30_000,
): Promise<{ process: RuntimeProcess; origin: string }> {
  const server = startProcess(command, args, options)
  try {
    const port = await waitForOutput(
      server,
      server.child.stdout,
      /(?:listening |http:\/\/127\.0\.0\.1:)(\d+)/,
      timeoutMs,
    )
    return { process: server, origin: `http://127.0.0.1:${port}` }
  } catch (error) {
    await server.stop()
    throw error
  }
}
