import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { redisAvailable } from '../helpers/redis.js'
import { assemble, CONTEXT_NAMES } from './snippets/contexts.js'
import { type Snippet, snippetsOf } from './snippets/markdown.js'
import { runSnippet } from './snippets/run-snippet.js'
import { typeErrors, type VirtualModule } from './snippets/typecheck.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** README.md and the guides in docs/ (the generated API reference in docs/api/ is not read). */
const DOCS = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
]

/** Whether dist/ holds declarations built after the last change to src/. */
function builtIsFresh(): boolean {
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => statSync(join(entry.parentPath, entry.name)).mtimeMs),
    )
  try {
    return (
      statSync(join(root, 'dist/index.d.ts')).isFile() &&
      newest(join(root, 'dist')) >= newest(join(root, 'src'))
    )
  } catch {
    return false
  }
}

const parsed = DOCS.map((file) => snippetsOf(file, readFileSync(join(root, file), 'utf8')))
const snippets = parsed.flatMap((result) => result.snippets)
const runnable = snippets.filter((snippet) => snippet.mode === 'run')

/** Snippets run in child processes, at most this many at once (CI machines have two cores). */
const PARALLEL = 3
let running = 0
const waiting: (() => void)[] = []

/** Runs `task` when fewer than PARALLEL others run. */
async function limited(task: () => Promise<void>): Promise<void> {
  while (running >= PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  try {
    await task()
  } finally {
    running--
    waiting.shift()?.()
  }
}

/** A snippet written in a test rather than in the docs, to prove the harness can fail. */
function made(code: string, steps: Snippet['steps']): Snippet {
  return {
    where: 'made-up.md:1',
    slug: `made-up-${steps.length}`,
    language: 'ts',
    code,
    mode: 'run',
    context: undefined,
    reason: undefined,
    steps,
  }
}

describe('the snippets of README.md and docs/', () => {
  it('shows the two commands for a fresh clone in the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    expect(readme).toContain('npm ci && npm start')
    expect(readme).toContain('npm ci && npm test')
  })

  it('each follow a marker that says how they are tested, naming a known context', () => {
    const problems = parsed.flatMap((result) => result.problems)
    const unknown = snippets
      .filter((snippet) => snippet.context !== undefined && !CONTEXT_NAMES.includes(snippet.context))
      .map((snippet) => ({ where: snippet.where, problem: `unknown context "${snippet.context}"` }))
    expect([...problems, ...unknown]).toEqual([])
    expect(snippets.length).toBeGreaterThanOrEqual(20)
    // Type-checking alone is for fragments that cannot run here; most must run.
    expect(runnable.length).toBeGreaterThan(snippets.length / 2)
  })

  // One program for all of them and a bad one, which proves the check can fail.
  it('compile against the current API, in their contexts', { timeout: 180_000 }, () => {
    const modules: VirtualModule[] = snippets.map((snippet) => ({
      where: snippet.where,
      fileName: `${snippet.slug}.${snippet.language}`,
      ...assemble(snippet.code, snippet.context, 'typecheck'),
    }))
    const bad = "import { createHubb } from 'taskwire/server'\nexport const hub = createHubb()\n"
    modules.push({ where: 'bad.md:1', fileName: 'bad.ts', ...assemble(bad, undefined, 'typecheck') })
    const errors = typeErrors(modules)
    expect(errors.filter((line) => !line.startsWith('bad.md'))).toEqual([])
    expect(errors.filter((line) => line.startsWith('bad.md')).join('\n')).toContain('createHubb')
  })

  // The same snippets against the declarations a user installs. `npm test` needs no build, so
  // this waits for one (CI builds first, and fails here rather than skip).
  const built = builtIsFresh()
  it.skipIf(!built && !process.env.CI)(
    `compile against the built package's declarations${built ? '' : ' (skipped: run npm run build first)'}`,
    { timeout: 180_000 },
    () => {
      expect(built, 'dist/ is missing or older than src/: run npm run build').toBe(true)
      const modules: VirtualModule[] = snippets.map((snippet) => ({
        where: snippet.where,
        fileName: `${snippet.slug}.${snippet.language}`,
        ...assemble(snippet.code, snippet.context, 'typecheck'),
      }))
      expect(typeErrors(modules, 'dist')).toEqual([])
    },
  )

  describe.concurrent('run', () => {
    for (const snippet of runnable) {
      // Snippets of the Redis broker need a server; without one they skip, as the Redis
      // suites do (test/helpers/redis.ts says why, or fails under TASKWIRE_REQUIRE_REDIS=1).
      const needsRedis = snippet.code.includes("'taskwire/redis'")
      it.skipIf(needsRedis && !redisAvailable)(
        `${snippet.where}${snippet.context ? ` in ${snippet.context}` : ''}`,
        { timeout: 180_000 },
        () => limited(() => runSnippet(snippet)),
      )
    }

    it('fails a snippet whose server crashes on a request', { timeout: 180_000 }, async () => {
      const server = [
        "import { createServer } from 'node:http'",
        "createServer((req, res) => void res.end(decodeURIComponent(req.url ?? ''))).listen(3000)",
      ].join('\n')
      const request = { kind: 'request', method: 'GET', body: undefined, headers: {} } as const
      await limited(() => runSnippet(made(server, [{ ...request, path: '/ok', status: 200, text: '/ok' }])))
      await expect(
        limited(() =>
          runSnippet(made(server, [{ ...request, path: '/%E0%A4%A', status: 400, text: undefined }])),
        ),
      ).rejects.toThrow(/GET \/%E0%A4%A failed[\s\S]*URIError/)
    })

    it('fails a snippet that exits with an error, or serves with no request to answer', {
      timeout: 180_000,
    }, async () => {
      await expect(limited(() => runSnippet(made("throw new Error('boom')", [])))).rejects.toThrow(
        /exited with 1/,
      )
      await expect(
        limited(() =>
          runSnippet(made("import { createServer } from 'node:http'\ncreateServer().listen(3000)", [])),
        ),
      ).rejects.toThrow(/did not end by itself/)
    })
  })
})
