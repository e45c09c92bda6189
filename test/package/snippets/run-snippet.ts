import { type ChildProcess, fork } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assemble } from './contexts.js'
import type { Snippet, SnippetRequest } from './markdown.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
// Inside node_modules so that the snippets' bare imports (express, hono, ws) resolve as in the
// repository, beside a package.json that makes them ES modules (top-level await).
const scratch = join(root, 'node_modules/.cache/taskwire-doc-snippets')
const preload = join(root, 'test/package/snippets/child/preload.ts')

/** How long a snippet may take to start, to answer one request, or to exit on its own. */
const STEP_MS = 20_000
/** The most bytes of an answer read while looking for the expected text. */
const MAX_READ_BYTES = 65_536
/** The most output kept from a snippet's process, for the failure message. */
const MAX_OUTPUT_CHARS = 8_000

/** A snippet's process, with what it printed. */
interface Running {
  readonly process: ChildProcess
  readonly output: () => string
  /** Settles with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>
  /** Settles with the port of the first server the snippet listens on, or null if it ends first. */
  readonly listening: Promise<number | null>
}

/** Rejects after `ms` with a message, unless `promise` settles first. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function start(snippet: Snippet): Running {
  mkdirSync(scratch, { recursive: true })
  // Snippets run side by side, and Node reads this file whenever one of them imports a module:
  // rewriting it in place would let another snippet read it half written. So it is written
  // once, and atomically.
  const manifest = join(scratch, 'package.json')
  const type = '{ "type": "module" }\n'
  if (!existsSync(manifest) || readFileSync(manifest, 'utf8') !== type) {
    writeFileSync(`${manifest}.${process.pid}`, type)
    renameSync(`${manifest}.${process.pid}`, manifest)
  }
  const file = join(scratch, `${snippet.slug}.${snippet.language}`)
  writeFileSync(file, assemble(snippet.code, snippet.context, 'run').code)
  const child = fork(file, [], {
    cwd: root,
    execArgv: ['--import', 'tsx', '--import', preload],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '0' },
  })
  let output = ''
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT_CHARS)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
  const listening = new Promise<number | null>((resolve) => {
    child.on('message', (message: { listening?: number }) => {
      if (typeof message.listening === 'number') resolve(message.listening)
    })
    void exited.then(() => resolve(null))
  })
  return { process: child, output: () => output, exited, listening }
}

/** Sends one request and reads the answer until the expected text shows (a stream never ends). */
async function send(port: number, request: SnippetRequest): Promise<{ status: number; text: string }> {
  const abort = new AbortController()
  try {
    const response = await fetch(`http://127.0.0.1:${port}${request.path}`, {
      method: request.method,
      signal: abort.signal,
      headers: {
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...request.headers,
      },
      ...(request.body === undefined ? {} : { body: request.body }),
    })
    let text = ''
    const reader = response.body?.getReader()
    const decoder = new TextDecoder()
    while (reader && text.length < MAX_READ_BYTES && !(request.text && text.includes(request.text))) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
    return { status: response.status, text }
  } finally {
    abort.abort()
  }
}

/**
 * Runs a snippet in its own process, drives it as its marker says, and ends it. A snippet
 * without requests must exit with code 0 by itself; one with requests must listen, answer each
 * one as written (a crash fails the request), and is then killed.
 *
 * @throws Error naming the snippet, the step that failed and the snippet's output
 */
export async function runSnippet(snippet: Snippet): Promise<void> {
  const running = start(snippet)
  const fail = (message: string): never => {
    throw new Error(`${snippet.where}: ${message}\n--- the snippet's output ---\n${running.output()}`)
  }
  try {
    if (snippet.steps.length === 0) {
      // Nothing to drive: the snippet must end by itself, having closed what it opened.
      const code = await within(running.exited, STEP_MS, `${snippet.where} ending by itself`).catch(() =>
        fail(
          'did not end by itself; if it serves, add request lines such as "GET /path -> 200" to its marker',
        ),
      )
      if (code !== 0) fail(`exited with ${code}`)
      return
    }
    const port = await within(running.listening, STEP_MS, `${snippet.where} starting`)
    if (port === null) return fail('exited before it listened, so its requests could not be sent')
    for (const step of snippet.steps) {
      if (step.kind === 'signal') {
        running.process.kill(step.signal)
        const code = await within(running.exited, STEP_MS, `${snippet.where} after ${step.signal}`)
        if (code !== step.exitCode) fail(`exited with ${code} after ${step.signal}, not ${step.exitCode}`)
        return
      }
      const what = `${step.method} ${step.path}`
      const answer = await within(send(port, step), STEP_MS, `${snippet.where} ${what}`).catch(
        async (error: unknown) => {
          const code = await Promise.race([running.exited, Promise.resolve('still running')])
          return fail(`${what} failed (${String(error)}); the process: ${code}`)
        },
      )
      if (answer.status !== step.status)
        fail(`${what} answered ${answer.status}, not ${step.status}: ${answer.text}`)
      if (step.text !== undefined && !answer.text.includes(step.text)) {
        fail(`${what} answered without "${step.text}": ${answer.text.slice(0, 500)}`)
      }
    }
    const code = await Promise.race([running.exited, Promise.resolve('still running')])
    if (code !== 'still running') fail(`exited (${code}) while it should keep serving`)
  } finally {
    if (running.process.exitCode === null && running.process.signalCode === null)
      running.process.kill('SIGKILL')
    await running.exited
  }
}
