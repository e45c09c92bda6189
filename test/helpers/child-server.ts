import { type ChildProcess, spawn } from 'node:child_process'
import type { StreamHandle } from '../../src/client/index.js'
import { createRunStore, type Resync, type RunStore } from '../../src/client/index.js'

/** A server fixture running in a child process of its own, and the port it listens on. */
export interface ChildServer {
  readonly child: ChildProcess
  readonly port: number
}

/**
 * Starts a server fixture (a TypeScript file run with tsx) in a child process and resolves
 * with its port once it prints `listening <port>`, or rejects after 20 s or when it exits.
 * Push `child` to a list the test kills with SIGKILL afterwards.
 *
 * @param fixture - the fixture's path
 * @param env - variables added to the test's environment
 * @returns the child and its port
 */
export async function startChildServer(
  fixture: string,
  env: Record<string, string> = {},
): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no port after 20 s: ${output}`)), 20_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening (\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the server exited with ${code}: ${output}`))
    })
  }).catch((error: unknown) => {
    child.kill('SIGKILL')
    throw error
  })
  return { child, port }
}

/** What a viewer saw of a stream: its state, every event id in order, every resync. */
export interface Viewer {
  readonly store: RunStore
  readonly ids: string[]
  readonly resyncs: Resync[]
}

/**
 * Follows a handle as an app would (a run store subscribed) and records what it received.
 *
 * @param handle - the stream handle
 * @returns the store and the records
 */
export function view(handle: StreamHandle): Viewer {
  const store = createRunStore(handle)
  store.subscribe(() => {})
  const ids: string[] = []
  handle.on('*', (event) => ids.push(event.id))
  const resyncs: Resync[] = []
  handle.onResync((resync) => resyncs.push(resync))
  return { store, ids, resyncs }
}
