import { type ChildProcess, spawn } from 'node:child_process'
import { TASKSET } from './machine.js'

/** A child process of a round, spoken to over IPC. */
export interface Child<Command, Message extends { kind: string }> {
  /** Sends a command; ignored once the child is gone. */
  send(command: Command): void
  /**
   * Waits for the child's next message of a kind (one that arrived earlier counts).
   * Rejects on the child's `error` message, on its exit, and after `timeoutMs`.
   */
  next<K extends Message['kind']>(kind: K, timeoutMs?: number): Promise<Extract<Message, { kind: K }>>
  /** Asks the child to exit, and kills it if it has not within a second. */
  close(): Promise<void>
}

/** How long any wait for a child lasts at most. */
export const WAIT_MS = 120_000

/**
 * Starts a child process with an IPC channel, pinned to a core with `taskset` when `core`
 * is given.
 *
 * @param label - the child's name, for errors
 * @param args - node's arguments (flags, script, its arguments)
 * @param core - the core to pin to, or `undefined`
 * @param cwd - the working directory (where `--import tsx` resolves)
 * @returns the child
 */
export function spawnChild<Command, Message extends { kind: string }>(
  label: string,
  args: string[],
  core: number | undefined,
  cwd: string,
): Child<Command, Message> {
  const [command, argv] =
    core === undefined ? [process.execPath, args] : [TASKSET, ['-c', String(core), process.execPath, ...args]]
  const child: ChildProcess = spawn(command, argv, { cwd, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const inbox: Message[] = []
  const waiters = new Set<() => void>()
  let failure: Error | undefined
  let exited = false

  const wake = () => {
    for (const waiter of waiters) waiter()
  }
  child.on('message', (message: Message) => {
    if (message.kind === 'error')
      failure ??= new Error(`${label}: ${String((message as { message?: unknown }).message)}`)
    else inbox.push(message)
    wake()
  })
  child.on('error', (error) => {
    failure ??= new Error(`${label}: ${error.message}`)
    wake()
  })
  child.on('exit', (code, signal) => {
    exited = true
    failure ??= new Error(`${label} exited (${signal ?? code})`)
    wake()
  })

  return {
    send(command) {
      if (child.connected) child.send(command as object)
    },
    next(kind, timeoutMs = WAIT_MS) {
      type Wanted = Extract<Message, { kind: typeof kind }>
      return new Promise<Wanted>((resolve, reject) => {
        const check = () => {
          const index = inbox.findIndex((message) => message.kind === kind)
          if (index !== -1) {
            settle()
            resolve(inbox.splice(index, 1)[0] as Wanted)
          } else if (failure) {
            settle()
            reject(failure)
          }
        }
        const timer = setTimeout(() => {
          settle()
          reject(new Error(`${label}: no '${kind}' within ${timeoutMs / 1000} s`))
        }, timeoutMs)
        const settle = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    async close() {
      if (exited) return
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      if (child.connected) child.send({ kind: 'exit' })
      const timer = setTimeout(() => child.kill('SIGKILL'), 1000)
      await gone
      clearTimeout(timer)
    },
  }
}
