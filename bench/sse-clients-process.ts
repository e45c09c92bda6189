import { type ChildProcess, fork } from 'node:child_process'

/** The SSE clients of a fan-out round, in a process of their own (bench/sse-clients.mjs). */
export interface SseClients {
  /** The process; kill it when the round ends. */
  readonly child: ChildProcess
  /**
   * Resolves when the clients report `kind` (`ready`: every client connected; `done`: every
   * client received every event), and rejects on their error or after 120 s.
   */
  next(kind: 'ready' | 'done'): Promise<void>
}

/**
 * Forks the clients of one round, so their parsing does not share the server's event loop.
 *
 * @param url - the stream's URL
 * @param clients - how many connections to open
 * @param events - how many events each must receive
 * @param name - the variant's name, for errors
 * @returns the process and a way to await its reports
 */
export function forkSseClients(url: string, clients: number, events: number, name: string): SseClients {
  const child = fork(new URL('./sse-clients.mjs', import.meta.url), [url, String(clients), String(events)])
  const next = (kind: 'ready' | 'done') =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no '${kind}' within 120 s`)), 120_000)
      child.on('message', (message: { kind: string; message?: string }) => {
        if (message.kind === kind) {
          clearTimeout(timer)
          resolve()
        } else if (message.kind === 'error') {
          clearTimeout(timer)
          reject(new Error(message.message))
        }
      })
    })
  return { child, next }
}
