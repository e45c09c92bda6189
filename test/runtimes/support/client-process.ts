import { type RuntimeProcess, startProcess } from './processes.js'
import { binary } from './scratch.js'

/** A line the client fixture prints: what a user of the stream handle sees. */
export type ClientLine =
  | { kind: 'event'; id: string; type: string; stream: string; ts: string; at: number }
  | { kind: 'status'; status: string; error: string | null }
  | { kind: 'resync'; resync: { kind: string; events?: number; reason?: string } }
  | {
      kind: 'closed'
      error: string | null
      stats: { attempts: number; reconnects: number; duplicates: number; invalid: number }
    }
  | { kind: 'error'; message: string }

/** The runtimes the client fixture runs in. */
export type ClientRuntime = 'node' | 'bun' | 'deno'

/** `connect()` following a stream in a runtime of its own. */
export interface ClientRun {
  readonly runtime: ClientRuntime
  /** Every line printed so far. */
  readonly lines: ClientLine[]
  /** The events received, in order. */
  events(): Extract<ClientLine, { kind: 'event' }>[]
  /** Resolves once `check` holds for the lines; fails with them after `timeoutMs`. */
  waitFor(check: (lines: readonly ClientLine[]) => boolean, what: string, timeoutMs?: number): Promise<void>
  /** Ends the process. */
  stop(): Promise<void>
}

/** How each runtime runs the TypeScript client fixture. */
function commandFor(runtime: ClientRuntime): [string, string[]] {
  if (runtime === 'node') return [process.execPath, ['--import', 'tsx', 'client.ts']]
  if (runtime === 'bun') return [binary('bun'), ['client.ts']]
  return [binary('deno'), ['run', '--allow-net=127.0.0.1', '--allow-read', '--allow-env', 'client.ts']]
}

/**
 * Runs the client fixture: `connect(url, options)` in `runtime`, from the project in `dir`.
 *
 * @param runtime - node, bun or deno
 * @param dir - the scratch project holding client.ts
 * @param url - the stream's URL
 * @param options - connect options that survive JSON (method, headers, body, timings)
 * @returns the running client
 */
export function runClient(
  runtime: ClientRuntime,
  dir: string,
  url: string,
  options: Record<string, unknown> = {},
): ClientRun {
  const [command, args] = commandFor(runtime)
  const child: RuntimeProcess = startProcess(command, [...args, url, JSON.stringify(options)], {
    cwd: dir,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
  })
  const lines: ClientLine[] = []
  const waiters = new Set<() => void>()
  let pending = ''
  child.child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk
    const complete = pending.split('\n')
    pending = complete.pop() ?? ''
    for (const line of complete) if (line.startsWith('{')) lines.push(JSON.parse(line) as ClientLine)
    for (const waiter of [...waiters]) waiter()
  })
  return {
    runtime,
    lines,
    events: () => lines.filter((line) => line.kind === 'event'),
    waitFor(check, what, timeoutMs = 15_000) {
      return new Promise<void>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer)
          waiters.delete(test)
          child.child.off('exit', onExit)
        }
        const test = (): void => {
          if (!check(lines)) return
          done()
          resolve()
        }
        const fail = (why: string): void => {
          done()
          reject(
            new Error(
              `${runtime} client: ${why} waiting for ${what}; lines:\n${lines.map((line) => JSON.stringify(line)).join('\n')}\noutput:\n${child.output()}`,
            ),
          )
        }
        const onExit = (): void => {
          // Lines still in the pipe arrive before 'close'; check them once more.
          setTimeout(() => {
            if (!check(lines)) return fail('the process exited')
            done()
            resolve()
          }, 50)
        }
        const timer = setTimeout(() => fail(`no match after ${timeoutMs} ms`), timeoutMs)
        waiters.add(test)
        child.child.once('exit', onExit)
        test()
      })
    },
    stop: () => child.stop(),
  }
}
