import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, posix, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** Which of our layers each layer may import; a layer may always import its own files. */
const allowedLayers: Record<string, readonly string[]> = {
  core: [],
  server: ['core'],
  client: ['core'],
  react: ['client', 'core'],
  vanilla: ['client', 'core'],
  msw: ['core'],
  redis: ['server', 'core'],
}

/** Layers that run in browsers and edge runtimes, so they may use web-standard APIs only. */
const webLayers = new Set(['core', 'client', 'react', 'vanilla'])

/** The package's own name: a self-reference (`taskwire/server`) is a layer import too. */
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

/** Packages a published file may import: what users install with taskwire or beside it. */
const shippedPackages = new Set([
  ...Object.keys(packageJson.dependencies ?? {}),
  ...Object.keys(packageJson.peerDependencies ?? {}),
])

const builtins = new Set(builtinModules)

/** An import that breaks a layer rule. */
interface Violation {
  file: string
  line: number
  specifier: string
  rule: string
}

/**
 * Lists the module specifiers of a source file: static imports and re-exports (type-only
 * ones too, since they end up in the published `.d.ts`), dynamic `import()` and `require()`.
 * The TypeScript scanner skips comments and strings, which a regular expression would not.
 */
function importsOf(text: string): { specifier: string; line: number }[] {
  const info = ts.preProcessFile(text, true, true)
  return info.importedFiles.map((ref) => ({
    specifier: ref.fileName,
    line: text.slice(0, ref.pos).split('\n').length,
  }))
}

/** Node-only globals: in scope for the type checker (`types: ["node"]`), absent in browsers. */
const nodeGlobals = new Set([
  'Buffer',
  'process',
  '__dirname',
  '__filename',
  'setImmediate',
  'clearImmediate',
  'require',
])

/**
 * Lists uses of Node-only globals, skipping comments, strings, property names (`x.process`)
 * and object keys (`{ process: 1 }`).
 */
function nodeGlobalsIn(text: string): { name: string; line: number }[] {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, text)
  const found: { name: string; line: number }[] = []
  let previous = ts.SyntaxKind.Unknown
  let candidate: { name: string; line: number } | null = null
  for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
    if (candidate !== null && token !== ts.SyntaxKind.ColonToken) found.push(candidate)
    candidate = null
    const afterDot = previous === ts.SyntaxKind.DotToken || previous === ts.SyntaxKind.QuestionDotToken
    if (token === ts.SyntaxKind.Identifier && !afterDot && nodeGlobals.has(scanner.getTokenValue())) {
      candidate = {
        name: scanner.getTokenValue(),
        line: text.slice(0, scanner.getTokenStart()).split('\n').length,
      }
    }
    previous = token
  }
  if (candidate !== null) found.push(candidate)
  return found
}

/** The first path segment under `src/`, or null for a file outside it. */
function layerOfPath(path: string): string | null {
  const parts = path.split('/')
  return parts[0] === 'src' && parts.length > 2 ? (parts[1] ?? null) : null
}

/** The package name of a bare specifier: `zod`, `@hono/node-server`, `zod/mini` → `zod`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier)
}

/**
 * Checks one source file against the layer rules.
 *
 * @param file - the path relative to the repository root, with `/` separators
 * @param text - the file's source
 * @returns every import that breaks a rule
 */
function checkLayers(file: string, text: string): Violation[] {
  const layer = layerOfPath(file)
  if (layer === null) return []
  const allowed = allowedLayers[layer]
  const violations: Violation[] = []
  const flag = (specifier: string, line: number, rule: string) =>
    violations.push({ file, line, specifier, rule })
  if (allowed === undefined) {
    flag('', 1, `src/${layer} is not a known layer; add it to allowedLayers and to the exports map`)
    return violations
  }
  for (const { specifier, line } of importsOf(text)) {
    let target: string | null = null
    if (specifier.startsWith('.')) {
      target = layerOfPath(posix.normalize(posix.join(posix.dirname(file), specifier)))
      if (target === null) flag(specifier, line, 'imports a file outside src/')
    } else if (specifier === packageJson.name || specifier.startsWith(`${packageJson.name}/`)) {
      const subpath = specifier.slice(packageJson.name.length + 1)
      target = subpath === '' ? 'core' : subpath
    } else if (specifier.startsWith('node:') || builtins.has(packageOf(specifier))) {
      if (webLayers.has(layer)) {
        flag(specifier, line, `src/${layer} must run outside Node: use web-standard APIs, not Node builtins`)
      }
    } else if (!shippedPackages.has(packageOf(specifier))) {
      flag(specifier, line, 'imports a package that is neither a dependency nor a peer dependency')
    }
    if (target !== null && target !== layer && !allowed.includes(target)) {
      flag(specifier, line, `src/${layer} may import only ${[layer, ...allowed].join(', ')}, not ${target}`)
    }
  }
  if (webLayers.has(layer)) {
    for (const { name, line } of nodeGlobalsIn(text)) {
      flag(name, line, `src/${layer} must run outside Node: ${name} is a Node global`)
    }
  }
  return violations
}

/** Every `.ts`/`.tsx` file under a directory, as repository-relative `/` paths. */
function sourceFiles(directory: string): string[] {
  return readdirSync(join(root, directory), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort()
}

describe('layer rules', () => {
  it('flags imports against the layer direction, Node builtins and globals in web layers, and undeclared packages', () => {
    const text = [
      "import { createHub } from '../server/hub.js'",
      "export { connect } from '../client/connect.js'",
      "import type { Hub } from 'taskwire/server'",
      "import { readFile } from 'node:fs/promises'",
      "const zlib = await import('zlib')",
      "import { WebSocketServer } from 'ws'",
      '// a comment that mentions import("node:net") or Buffer is neither',
      "const bytes = Buffer.byteLength('x')",
      "const options = { process: true, env: options.process, text: 'process' }",
    ].join('\n')
    expect(checkLayers('src/core/bad.ts', text).map((v) => [v.line, v.specifier])).toEqual([
      [1, '../server/hub.js'],
      [2, '../client/connect.js'],
      [3, 'taskwire/server'],
      [4, 'node:fs/promises'],
      [5, 'zlib'],
      [6, 'ws'],
      [8, 'Buffer'],
    ])
  })

  it('accepts imports along the layer direction and Node builtins on the server', () => {
    expect(checkLayers('src/react/use-run.ts', "import { connect } from '../client/index.js'")).toEqual([])
    expect(checkLayers('src/redis/broker.ts', "import type { Broker } from '../server/types.js'")).toEqual([])
    expect(
      checkLayers('src/server/serve-node.ts', "import type { ServerResponse } from 'node:http'"),
    ).toEqual([])
    expect(checkLayers('src/client/x.ts', "import { createParser } from 'eventsource-parser'")).toEqual([])
    expect(checkLayers('src/server/x.ts', 'const size = Buffer.byteLength(text)')).toEqual([])
  })

  it('flags a client import of the server and a server import of the client', () => {
    expect(checkLayers('src/client/x.ts', "import { createHub } from '../server/index.js'")).toHaveLength(1)
    expect(checkLayers('src/server/x.ts', "import { connect } from '../client/index.js'")).toHaveLength(1)
    expect(checkLayers('src/msw/x.ts', "import { createHub } from '../server/index.js'")).toHaveLength(1)
  })

  it('holds for every file under src/', () => {
    const files = sourceFiles('src')
    expect(files).toContain('src/core/index.ts')
    const violations = files.flatMap((file) => checkLayers(file, readFileSync(join(root, file), 'utf8')))
    expect(violations.map((v) => `${v.file}:${v.line} ${v.specifier}: ${v.rule}`)).toEqual([])
  })

  it('has an index.ts with a @module comment in every layer folder', () => {
    for (const layer of Object.keys(allowedLayers)) {
      const text = readFileSync(join(root, 'src', layer, 'index.ts'), 'utf8')
      expect(text, `src/${layer}/index.ts`).toMatch(/^\/\*\*[\s\S]*?@module taskwire(\/[a-z]+)?\n/)
      expect(text, `src/${layer}/index.ts re-exports by name`).not.toMatch(/export \* /)
    }
  })
})
