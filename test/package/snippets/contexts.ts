import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { entries } from '../../../tsup.config.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const child = join(root, 'test/package/snippets/child')

/**
 * A line a context adds around a fragment, left out when the fragment declares one of the
 * names itself (a snippet that imports `serveNode` or creates its own `hub` keeps its own).
 */
interface Piece {
  readonly declares: readonly string[]
  readonly code: string
}

/** What a fragment needs to compile and run: lines before it, lines after it. */
interface Context {
  readonly before: readonly Piece[]
  readonly after: readonly Piece[]
}

/** One import per name, so that a snippet importing some of them itself keeps the others. */
const importFrom = (module: string, ...names: string[]): Piece[] =>
  names.map((name) => ({
    declares: [name.replace(/^type /, '')],
    code: `import { ${name} } from '${module}'`,
  }))

const hub: Piece[] = [
  ...importFrom('taskwire/server', 'createHub'),
  { declares: ['hub'], code: 'const hub = createHub()' },
]

/** Stand-ins for the application's own code that route fragments call. */
const appCode: Piece[] = [
  {
    declares: ['db'],
    code: 'const db = { tasks: { update: async (_jobId: string, _data: unknown): Promise<void> => {} } }',
  },
  {
    declares: ['planTasks'],
    code: "const planTasks = async (_body: unknown, _options: { signal: AbortSignal }) => ({ durationMs: 5, summary: 'planned' })",
  },
  {
    declares: ['sessionOf'],
    code: "const sessionOf = async (_request: unknown) => ({ canRead: (stream: string) => stream !== 'job-secret' })",
  },
  {
    declares: ['jobs'],
    code: "const jobs = { exists: async (stream: string) => stream.startsWith('job-') }",
  },
  {
    declares: ['userOf'],
    code: 'const userOf = async (authorization: string | null) => (authorization ? { id: authorization } : null)',
  },
]

const coreImports = importFrom('taskwire', 'TaskwireValidationError')

const serverImports = importFrom(
  'taskwire/server',
  'serveNode',
  'serveWeb',
  'servePoll',
  'pollUpdates',
  'parseEvent',
  'startExecution',
  'cancelExecution',
  'validationErrorBody',
  'validationErrorStatus',
  'validationErrorResponse',
  'parseEventNode',
  'parseEventRequest',
  'headerReaderOf',
)

const express: Context = {
  before: [
    { declares: ['express'], code: "import express from 'express'" },
    ...coreImports,
    ...serverImports,
    ...hub,
    ...appCode,
    { declares: ['app'], code: 'const app = express()' },
  ],
  after: [{ declares: [], code: 'app.listen(3000)' }],
}

/**
 * The contexts a marker can name (`<!-- snippet: run in express -->`). Each gives a fragment
 * the names it uses without declaring, as the surrounding application would, and starts the
 * server it mounts on (the test rewrites every port to 0).
 */
const CONTEXTS: Record<string, Context> = {
  /** A module that shares the process's hub. */
  hub: { before: hub, after: [] },
  /** An Express 5 app with the hub, the server functions and the application's stand-ins. */
  express,
  /** Route code inside an Express handler, where `req` and `res` are the handler's. */
  'express-route': {
    before: [...express.before, { declares: [], code: "app.get('/api/jobs/:id/events', (req, res) => {" }],
    after: [{ declares: [], code: '})' }, ...express.after],
  },
  /** A Fastify 5 app. */
  fastify: {
    before: [
      { declares: ['Fastify'], code: "import Fastify from 'fastify'" },
      ...coreImports,
      ...serverImports,
      ...hub,
      ...appCode,
      { declares: ['app'], code: 'const app = Fastify()' },
    ],
    after: [{ declares: [], code: 'await app.listen({ port: 3000 })' }],
  },
  /** A Hono app served on Node by @hono/node-server. */
  hono: {
    before: [
      { declares: ['Hono'], code: "import { Hono } from 'hono'" },
      { declares: ['serveHono'], code: "import { serve as serveHono } from '@hono/node-server'" },
      ...coreImports,
      ...serverImports,
      ...hub,
      { declares: ['app'], code: 'const app = new Hono()' },
    ],
    after: [{ declares: [], code: 'serveHono({ fetch: app.fetch, port: 3000 })' }],
  },
  /**
   * A Next.js route module: its `GET` is served on Node for the test, with `params` taken from
   * the path (`/api/<kind>/<id>/...`), and `@/lib/hub` is a module that creates the hub.
   */
  next: {
    before: [],
    after: [
      { declares: [], code: "import { serve as serveRoute } from '@hono/node-server'" },
      {
        declares: [],
        code: "serveRoute({ port: 3000, fetch: (request) => GET(request, { params: Promise.resolve({ id: new URL(request.url).pathname.split('/')[3] ?? '' }) }) })",
      },
    ],
  },
  /** A node:http server serving one stream, as a process's shutdown code finds it. */
  'node-server': {
    before: [
      { declares: ['createServer'], code: "import { createServer } from 'node:http'" },
      ...coreImports,
      ...serverImports,
      ...hub,
      {
        declares: ['server'],
        code: "const server = createServer((req, res) => void serveNode(hub, req, res, { stream: 'job-7' })).listen(3000)",
      },
    ],
    after: [],
  },
  /**
   * A `ws` server on a node:http server (`httpServer`) that answers plain requests with 426, so
   * a test can check that it serves.
   */
  websocket: {
    before: [
      { declares: ['createServer'], code: "import { createServer } from 'node:http'" },
      ...hub,
      {
        declares: ['httpServer'],
        code: 'const httpServer = createServer((_req, res) => void res.writeHead(426).end())',
      },
    ],
    after: [{ declares: [], code: 'httpServer.listen(3000)' }],
  },
  /** Code for the Bun and Deno runtimes, with their globals declared. */
  'bun-deno': {
    before: [
      ...coreImports,
      ...serverImports,
      ...hub,
      {
        declares: ['Bun'],
        code: 'declare const Bun: { serve(options: { idleTimeout?: number; fetch(request: Request): Response | Promise<Response> }): unknown }',
      },
      {
        declares: ['Deno'],
        code: 'declare const Deno: { serve(handler: (request: Request) => Response | Promise<Response>): unknown }',
      },
    ],
    after: [],
  },
  /**
   * Client code against a running stream: `url` (and `wsUrl`) serve a finished run, relative
   * URLs resolve against it as in a page, and `stream` is a handle on it (inert until subscribed).
   */
  client: {
    before: [
      ...importFrom('taskwire/client', 'connect', 'type StreamHandle'),
      { declares: ['EventSource'], code: "import { EventSource } from 'eventsource'" },
      { declares: ['WebSocket'], code: "import { WebSocket } from 'ws'" },
      {
        declares: ['startFixtureStream'],
        code: "import { startFixtureStream } from 'snippet:fixture-stream'",
      },
      { declares: ['url', 'wsUrl'], code: 'const { url, wsUrl } = await startFixtureStream()' },
      { declares: ['stream'], code: 'const stream = connect(url, { EventSource })' },
      { declares: ['render'], code: 'const render = (_snapshot: unknown): void => {}' },
      { declares: ['progressBar'], code: 'const progressBar = { value: 0 }' },
    ],
    after: [],
  },
}

/** The names a context may be given in a marker. */
export const CONTEXT_NAMES: readonly string[] = Object.keys(CONTEXTS)

/** The names a module declares at its top level: imports, variables, functions, classes, types. */
function declaredNames(code: string): Set<string> {
  const source = ts.createSourceFile('snippet.tsx', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TSX)
  const names = new Set<string>()
  const addBinding = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) names.add(name.text)
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) addBinding(element.name)
  }
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause
      if (clause?.name) names.add(clause.name.text)
      const bindings = clause?.namedBindings
      if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text)
      if (bindings && ts.isNamedImports(bindings))
        for (const element of bindings.elements) names.add(element.name.text)
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) addBinding(declaration.name)
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement)) &&
      statement.name
    ) {
      names.add(statement.name.text)
    }
  }
  return names
}

/** Where a module specifier of a snippet points, for running it or type-checking it here. */
function resolveSpecifier(specifier: string, purpose: 'run' | 'typecheck'): string {
  if (specifier === 'taskwire' || specifier.startsWith('taskwire/')) {
    const name = specifier === 'taskwire' ? 'index' : specifier.slice('taskwire/'.length)
    const source = (entries as Record<string, string>)[name]
    return source === undefined ? specifier : join(root, source).replace(/\.ts$/, '.js')
  }
  if (specifier === '@/lib/hub') return join(child, 'lib-hub.js')
  if (specifier.startsWith('snippet:')) return join(child, `${specifier.slice('snippet:'.length)}.js`)
  // A snippet that is a vitest test file runs its tests at once, outside a vitest run.
  if (specifier === 'vitest' && purpose === 'run') return join(child, 'vitest-shim.js')
  return specifier
}

/** A snippet made into a module: the code, and how many lines the context put before it. */
export interface AssembledSnippet {
  readonly code: string
  readonly linesBefore: number
}

/**
 * Puts a snippet in its context and points its imports where this repository can load them:
 * `taskwire`, `taskwire/server` and `taskwire/client` at the sources (no build needed).
 *
 * @throws Error when the context is unknown
 */
export function assemble(
  code: string,
  context: string | undefined,
  purpose: 'run' | 'typecheck',
): AssembledSnippet {
  const chosen = context === undefined ? { before: [], after: [] } : CONTEXTS[context]
  if (chosen === undefined)
    throw new Error(`unknown snippet context "${context}" (one of ${CONTEXT_NAMES.join(', ')})`)
  const declared = declaredNames(code)
  const keep = (piece: Piece): boolean => !piece.declares.some((name) => declared.has(name))
  const before = chosen.before.filter(keep).map((piece) => piece.code)
  const after = chosen.after.filter(keep).map((piece) => piece.code)
  const module = [...before, code, ...after]
    .join('\n')
    .replace(
      /(from\s+|import\s*\(\s*)'([^']+)'/g,
      (_, lead: string, specifier: string) => `${lead}'${resolveSpecifier(specifier, purpose)}'`,
    )
  return { code: `${module}\nexport {}\n`, linesBefore: before.length }
}
