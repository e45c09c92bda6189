// A release rehearsal on the tarball npm would publish, from a user's side of it: packs the
// package, checks the tarball with publint and attw (as `check:package` checks the working
// tree), installs it with its optional peers into a scratch project in a temporary directory,
// then from that project loads every entry with `import` and `require`, streams a run from a
// node:http hub to `connect()` through the packed files, and compiles a TypeScript consumer
// against the packed declarations (node16, nodenext and bundler resolution). Any failure
// exits non-zero naming its step; the temporary directory goes either way.
//
//   npm run release:dry      (builds first; this script packs whatever dist/ holds)
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name) => join(root, 'node_modules', '.bin', name)
const repoPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))
const started = performance.now()
const scratch = mkdtempSync(join(tmpdir(), 'taskwire-release-dry-'))
const consumer = join(scratch, 'consumer')
const STREAM = 'release-dry'
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    rmSync(scratch, { recursive: true, force: true })
    process.exit(130)
  })
}

// `npm run` tells child npm processes where the calling project is; the scratch project is
// its own root, so those variables must not reach the install.
const env = { ...process.env }
for (const key of Object.keys(env)) {
  if (/^(npm_config_local_prefix|npm_package_|npm_lifecycle_|npm_command$|INIT_CWD$)/.test(key))
    delete env[key]
}

class StepError extends Error {
  /**
   * @param {string} message
   * @param {string} [details] - output of the failed command, printed under the message
   */
  constructor(message, details = '') {
    super(message)
    this.details = details
  }
}

/**
 * Runs a command to completion and returns its stdout; a non-zero exit, a signal or the
 * timeout is a StepError carrying the command's output.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string, timeoutMs?: number }} [options]
 */
function run(command, args, { cwd = root, timeoutMs = 120_000 } = {}) {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs })
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim()
  const shown = `${relative(root, command) || command} ${args.join(' ')}`
  if (result.error?.code === 'ETIMEDOUT')
    throw new StepError(`${shown}: no exit after ${timeoutMs} ms`, output)
  if (result.error) throw new StepError(`${shown}: ${result.error.message}`, output)
  if (result.status !== 0)
    throw new StepError(`${shown}: exit ${result.status ?? result.signal}`, output || '(no output)')
  return result.stdout
}

/** The version package-lock.json pins for a package at the repository's top level. */
function locked(name) {
  const version = lock.packages[`node_modules/${name}`]?.version
  if (!version) throw new StepError(`package-lock.json pins no version of ${name}`)
  return version
}

const steps = []
/**
 * Runs one step, printing `ok` with what it found or `FAIL` with why; a failure stops the run.
 * @param {string} name
 * @param {() => string | Promise<string>} body - returns a one-line summary
 */
async function step(name, body) {
  const t0 = performance.now()
  try {
    const summary = await body()
    const seconds = ((performance.now() - t0) / 1000).toFixed(1)
    console.log(`ok   ${name}: ${summary} (${seconds} s)`)
    steps.push(name)
  } catch (error) {
    console.log(`FAIL ${name}: ${error instanceof Error ? error.message : String(error)}`)
    if (error instanceof StepError && error.details) console.log(error.details.replace(/^/gm, '  | '))
    else if (!(error instanceof StepError) && error instanceof Error && error.stack) console.log(error.stack)
    throw new StepError(name)
  }
}

// Entry specifiers as a user writes them, from the packed package.json's `exports`.
const specifiersOf = (pkg) =>
  Object.keys(pkg.exports)
    .filter((subpath) => !subpath.endsWith('.json'))
    .map((subpath) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`))

// --- what the scratch project runs -------------------------------------------------------

// Prints, as JSON, each entry's export names and the file it resolved to.
const LOAD_ESM = `import { fileURLToPath } from 'node:url'
const result = {}
for (const specifier of JSON.parse(process.argv[2])) {
  const names = Object.keys(await import(specifier)).sort()
  result[specifier] = { names, file: fileURLToPath(import.meta.resolve(specifier)) }
}
console.log(JSON.stringify(result))
`
const LOAD_CJS = `const result = {}
for (const specifier of JSON.parse(process.argv[2])) {
  const names = Object.keys(require(specifier)).sort()
  result[specifier] = { names, file: require.resolve(specifier) }
}
console.log(JSON.stringify(result))
`

// A hub on 127.0.0.1:0 and connect() from the packed files: two events published before the
// client connects (replayed), two after it has them (live), the last one terminal. The ids the
// client sees must be those publish returned, in order, and the iteration must end by itself.
const ROUND_TRIP_BODY = `
const stream = '${STREAM}'
const hub = createHub()
const server = createServer((req, res) => void serveNode(hub, req, res, { stream }))
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const { port } = server.address()
const published = [
  await hub.publish(stream, 'task.created', { taskId: 't1', title: 'Pack the tarball' }),
  await hub.publish(stream, 'task.status', { taskId: 't1', status: 'in_progress' }),
]
const handle = connect(\`http://127.0.0.1:\${port}/\`)
const received = []
const timeout = setTimeout(() => {
  console.error(\`timed out after 10 s with \${received.length} of 4 events, status \${handle.status}\`)
  process.exit(1)
}, 10_000)
for await (const event of handle) {
  received.push(event)
  if (received.length === 2) {
    published.push(await hub.publish(stream, 'task.completed', { taskId: 't1' }))
    published.push(await hub.publish(stream, 'run.completed', {}))
  }
}
clearTimeout(timeout)
const seen = received.map((event) => \`\${event.type}#\${event.id}\`)
const sent = published.map((event) => \`\${event.type}#\${event.id}\`)
assert.deepEqual(seen, sent, 'the client got the published events, in order, with their ids')
assert.equal(new Set(sent.map((entry) => entry.split('#')[1])).size, sent.length, 'ids are distinct')
assert.equal(handle.status, 'closed', 'the handle closed after run.completed')
assert.equal(handle.error, null, 'the handle closed without an error')
assert.equal(handle.lastEventId, published.at(-1).id, 'the cursor is the terminal event id')
server.closeAllConnections()
server.close()
await hub.close()
console.log(seen.join(' '))
`
const ROUND_TRIP_ESM = `import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { connect } from 'taskwire/client'
import { createHub, serveNode } from 'taskwire/server'
${ROUND_TRIP_BODY}`
const ROUND_TRIP_CJS = `const assert = require('node:assert/strict')
const { once } = require('node:events')
const { createServer } = require('node:http')
const { connect } = require('taskwire/client')
const { createHub, serveNode } = require('taskwire/server')
async function main() {${ROUND_TRIP_BODY}}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
`

// A consumer of every entry, compiled (never run) against the packed declarations. The
// @ts-expect-error lines fail the check if the catalog's types ever widen to any.
const CONSUMER = `import type { Envelope, RunState } from 'taskwire'
import { defaultCatalog, defineCatalog, initialRunState, isTaskwireError, reduceRun } from 'taskwire'
import { sseHandler } from 'taskwire/msw'
import { useConnectionStatus, useRun } from 'taskwire/react'
import { createRedisBroker, type RedisBroker } from 'taskwire/redis'
import { type Hub, createHub, serveNode } from 'taskwire/server'
import { connect, createRunStore, fetchTransport, type StreamHandle } from 'taskwire/client'
import { bindConnectionIndicator, createRunStore as createSharedRunStore } from 'taskwire/vanilla'
import { createServer } from 'node:http'

export const hub: Hub = createHub()
export const server = createServer((req, res) => void serveNode(hub, req, res, { stream: 'job-7' }))

export async function publishJob(): Promise<string> {
  const created = await hub.publish('job-7', 'task.created', { taskId: 't1', title: 'Build' })
  const title: string | undefined = created.data.title
  // @ts-expect-error not an event type of the default catalog
  await hub.publish('job-7', 'task.nope', {})
  // @ts-expect-error 'done' is not a task status
  await hub.publish('job-7', 'task.status', { taskId: 't1', status: 'done' })
  return \`\${created.id} \${title}\`
}

export const stream: StreamHandle = connect('http://127.0.0.1:3000/api/jobs/7/events', { transport: fetchTransport })
stream.on('task.status', (event) => {
  const status: 'pending' | 'in_progress' | 'completed' | 'failed' | 'cancelled' = event.data.status
  return status
})
export const state: RunState = createRunStore(stream).getState()
export const folded = (events: Envelope[]): RunState => events.reduce(reduceRun, initialRunState)

export const reviews = defineCatalog({ ...defaultCatalog.events })

export function useTaskCount(url: string): number {
  useConnectionStatus(url)
  return useRun(url, { select: (run) => run.tasks.length }).state
}

export const shared = createSharedRunStore('http://127.0.0.1:3000/api/jobs/7/events')
export function bind(element: { setAttribute(name: string, value: string): void; title: string }): () => void {
  return bindConnectionIndicator(element, shared)
}

export const handler = sseHandler('GET', 'https://api.example.com/jobs/:id/events', async (_info, events) => {
  await events.send('task.created', { taskId: 't1', title: 'Plan' })
  await events.send('run.completed', {})
})

export const broker: Promise<RedisBroker> = createRedisBroker({ url: 'redis://127.0.0.1:6379' })
export const isError = (error: unknown): boolean => isTaskwireError(error)
`

/**
 * Compiles the consumer files with one resolution mode.
 * @returns how many packed declaration files it read, and the errors in those and in the consumer
 */
function typeErrors(files, options) {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    typeRoots: [join(consumer, 'node_modules', '@types')],
    ...options,
  })
  // Only the package's declarations and the consumer's code are checked (skipLibCheck false
  // for them); other libraries' own errors are theirs, and checking them would triple the time.
  const packed = `${join(consumer, 'node_modules', 'taskwire')}/`
  const ours = program
    .getSourceFiles()
    .filter((file) => file.fileName.startsWith(packed) || files.includes(file.fileName))
  const declarations = ours.length - files.length
  if (declarations === 0) return { declarations, errors: ['the consumer reached no packed declaration file'] }
  const errors = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...ours.flatMap((file) => [
      ...program.getSyntacticDiagnostics(file),
      ...program.getSemanticDiagnostics(file),
    ]),
  ].map((d) => {
    const where = d.file
      ? `${relative(consumer, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : '(global)'
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
  })
  return { declarations, errors }
}

// --- the steps ---------------------------------------------------------------------------

let tarball = ''
let exitCode = 0
try {
  await step('npm pack', () => {
    const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', scratch]))
    tarball = join(scratch, packed.filename)
    const paths = packed.files.map((file) => file.path)
    const missing = ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist/index.js'].filter(
      (path) => !paths.includes(path),
    )
    if (missing.length > 0)
      throw new StepError(`the tarball lacks ${missing.join(', ')}; run npm run build first?`)
    const stray = paths.filter(
      (path) => !/^(dist\/|package\.json$|README\.md$|CHANGELOG\.md$|LICENSE$)/.test(path),
    )
    if (stray.length > 0)
      throw new StepError(`the tarball holds files users do not need: ${stray.join(', ')}`)
    return `${packed.filename}, ${packed.entryCount} files, ${(packed.size / 1024).toFixed(0)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked`
  })

  await step('publint --strict on the tarball', () => {
    const out = run(bin('publint'), ['run', tarball, '--strict'])
    return out.trim().split('\n').at(-1) ?? ''
  })

  await step('attw on the tarball', () => {
    run(bin('attw'), [tarball, '--format', 'table', '--no-emoji', '--no-color'])
    return 'no problems in any entry for node10, node16 (CJS and ESM) or bundler'
  })

  const peers = ['react', 'react-dom', 'msw', 'redis']
  const typings = ['@types/node', '@types/react']
  await step('install the tarball into a scratch project', () => {
    mkdirSync(consumer)
    const pin = (names) => Object.fromEntries(names.map((name) => [name, locked(name)]))
    const manifest = {
      name: 'taskwire-release-dry-consumer',
      private: true,
      type: 'module',
      dependencies: { taskwire: `file:${tarball}`, ...pin(peers) },
      devDependencies: pin(typings),
    }
    writeFileSync(join(consumer, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    const flags = ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error']
    // From npm's cache when it holds everything (it does after `npm ci`), else the registry.
    let mode = '--offline'
    try {
      run('npm', [...flags, '--offline'], { cwd: consumer, timeoutMs: 300_000 })
    } catch (error) {
      if (!(error instanceof StepError) || !/ENOTCACHED/.test(error.details)) throw error
      const uncached = /registry\.npmjs\.org\/(\S+?)(?: failed|:|$)/m.exec(error.details)?.[1]
      mode = `--prefer-offline (${uncached ? decodeURIComponent(uncached) : 'a package'} was not in npm's cache)`
      run('npm', [...flags, '--prefer-offline'], { cwd: consumer, timeoutMs: 300_000 })
    }
    const installed = (name) =>
      JSON.parse(readFileSync(join(consumer, 'node_modules', name, 'package.json'), 'utf8')).version
    const wrong = [...peers, ...typings].filter((name) => installed(name) !== locked(name))
    if (wrong.length > 0) throw new StepError(`not the locked versions: ${wrong.join(', ')}`)
    const deps = Object.keys(repoPkg.dependencies).map((name) => `${name}@${installed(name)}`)
    return `npm install ${mode}; taskwire@${installed('taskwire')} with ${deps.join(', ')}; ${peers.map((name) => `${name}@${installed(name)}`).join(', ')}`
  })

  const packedPkg = JSON.parse(
    readFileSync(join(consumer, 'node_modules', 'taskwire', 'package.json'), 'utf8'),
  )
  const specifiers = specifiersOf(packedPkg)
  const expected = specifiersOf(repoPkg)
  const packedDist = `${join(consumer, 'node_modules', 'taskwire', 'dist')}/`

  /** Loads every entry in one module system, in a process of its own, from the scratch project. */
  function load(file, source, extension) {
    writeFileSync(join(consumer, file), source)
    const result = JSON.parse(
      run('node', [file, JSON.stringify(specifiers)], { cwd: consumer, timeoutMs: 60_000 }),
    )
    for (const specifier of specifiers) {
      const { names, file: resolved } = result[specifier]
      if (!resolved.startsWith(packedDist) || !resolved.endsWith(extension))
        throw new StepError(
          `${specifier} resolved to ${resolved}, not a ${extension} file of the installed tarball`,
        )
      if (names.length === 0) throw new StepError(`${specifier} exports nothing`)
    }
    return result
  }

  let esm = {}
  await step('import every entry (ESM)', () => {
    if (specifiers.join() !== expected.join())
      throw new StepError(`the tarball's exports (${specifiers.join(', ')}) differ from package.json's`)
    esm = load('load.mjs', LOAD_ESM, '.js')
    return specifiers.map((specifier) => `${specifier} ${esm[specifier].names.length}`).join(', ')
  })

  await step('require every entry (CJS)', () => {
    const cjs = load('load.cjs', LOAD_CJS, '.cjs')
    const differ = specifiers.filter(
      (specifier) => esm[specifier].names.join() !== cjs[specifier].names.join(),
    )
    for (const specifier of differ) {
      const [a, b] = [esm[specifier].names, cjs[specifier].names]
      console.log(`  ${specifier}: import only ${a.filter((n) => !b.includes(n)).join(', ') || '-'}`)
      console.log(`  ${specifier}: require only ${b.filter((n) => !a.includes(n)).join(', ') || '-'}`)
    }
    if (differ.length > 0)
      throw new StepError(`import and require expose different names: ${differ.join(', ')}`)
    return `${specifiers.length} entries, the same names as with import`
  })

  for (const [label, file, source] of [
    ['ESM', 'round-trip.mjs', ROUND_TRIP_ESM],
    ['CJS', 'round-trip.cjs', ROUND_TRIP_CJS],
  ]) {
    await step(`round trip hub -> connect() (${label})`, () => {
      writeFileSync(join(consumer, file), source)
      return run('node', [file], { cwd: consumer, timeoutMs: 30_000 }).trim()
    })
  }

  await step('type-check a consumer against the packed types', () => {
    const esmFile = join(consumer, 'consumer.mts')
    const cjsFile = join(consumer, 'consumer.cts')
    const bundlerFile = join(consumer, 'src', 'consumer.ts')
    mkdirSync(join(consumer, 'src'))
    for (const file of [esmFile, cjsFile, bundlerFile]) writeFileSync(file, CONSUMER)
    const node = { lib: ['lib.es2022.d.ts'] }
    const modes = {
      node16: [
        [esmFile, cjsFile],
        { ...node, module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 },
      ],
      nodenext: [
        [esmFile, cjsFile],
        { ...node, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
      ],
      bundler: [
        [bundlerFile],
        {
          lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
          module: ts.ModuleKind.ESNext,
          moduleResolution: ts.ModuleResolutionKind.Bundler,
        },
      ],
    }
    const failures = []
    const checked = []
    for (const [mode, [files, options]] of Object.entries(modes)) {
      const { declarations, errors } = typeErrors(files, options)
      failures.push(...errors.map((line) => `${mode}: ${line}`))
      checked.push(`${mode} (${declarations} packed declaration files)`)
    }
    if (failures.length > 0) throw new StepError(`${failures.length} type errors`, failures.join('\n'))
    return `${checked.join(', ')}; an ESM and a CJS consumer for node16 and nodenext; TypeScript ${ts.version}`
  })
} catch (error) {
  exitCode = 1
  if (!(error instanceof StepError))
    console.log(error instanceof Error ? (error.stack ?? error.message) : error)
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

const seconds = ((performance.now() - started) / 1000).toFixed(1)
if (exitCode === 0) console.log(`\nrelease dry run passed: ${steps.length} steps in ${seconds} s`)
else console.log(`\nrelease dry run FAILED after ${steps.length} passing steps (${seconds} s)`)
process.exitCode = exitCode
