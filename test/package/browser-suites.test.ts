import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { createVitest } from 'vitest/node'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** What a module reaches through its value imports: the mark of a suite that needs a browser. */
interface BrowserUse {
  /** Files (repository-relative) whose static value imports load playwright-core. */
  readonly playwright: string[]
  /** Files that import the browser launcher, `launchChromium`, by name. */
  readonly launcher: string[]
}

/** The repository file a relative specifier names (`./x.js` written for `./x.ts`), if any. */
function resolveLocal(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined
  const target = resolve(dirname(from), specifier)
  const candidates = [target, target.replace(/\.js$/, '.ts'), target.replace(/\.js$/, '.tsx'), `${target}.ts`]
  return candidates.find((file) => existsSync(file) && file.endsWith('.ts'))
}

/**
 * Walks the static value imports of `entry` inside the repository (type-only imports are erased
 * and load nothing), noting who loads playwright-core and who imports `launchChromium`.
 */
function browserUseOf(entry: string): BrowserUse {
  const use: BrowserUse = { playwright: [], launcher: [] }
  const seen = new Set<string>()
  const pending = [entry]
  while (pending.length > 0 && seen.size < 10_000) {
    const file = pending.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest)
    for (const statement of source.statements) {
      let specifier: string | undefined
      let names: string[] = []
      if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly) {
        const bindings = statement.importClause?.namedBindings
        const named = bindings && ts.isNamedImports(bindings) ? bindings.elements : []
        // Only `import type` is erased whole: under verbatimModuleSyntax `import { type A }`
        // still loads its module, so every other form is followed.
        names = named.filter((element) => !element.isTypeOnly).map((element) => element.name.text)
        specifier = ts.isStringLiteral(statement.moduleSpecifier) ? statement.moduleSpecifier.text : undefined
      } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly && statement.moduleSpecifier) {
        specifier = ts.isStringLiteral(statement.moduleSpecifier) ? statement.moduleSpecifier.text : undefined
      }
      if (specifier === undefined) continue
      const where = relative(root, file)
      if (specifier === 'playwright-core' || specifier.startsWith('playwright')) use.playwright.push(where)
      if (names.includes('launchChromium')) use.launcher.push(where)
      const local = resolveLocal(file, specifier)
      if (local !== undefined) pending.push(local)
    }
  }
  return use
}

/** Whether a suite needs a browser to run. */
function needsBrowser(file: string): boolean {
  const use = browserUseOf(file)
  return use.playwright.length > 0 || use.launcher.length > 0
}

/** The suites a vitest config runs, repository-relative and sorted. */
async function suitesOf(config: string): Promise<string[]> {
  const vitest = await createVitest('test', { config: join(root, config), watch: false, root })
  try {
    const specifications = await vitest.globTestSpecifications()
    return specifications.map((specification) => relative(root, specification.moduleId)).sort()
  } finally {
    await vitest.close()
  }
}

/** Every `*.test.ts` file of the repository outside node_modules. */
function allSuites(): string[] {
  return ['test', 'examples']
    .flatMap((folder) =>
      readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' }).map((file) =>
        join(folder, file),
      ),
    )
    .filter((file) => file.endsWith('.test.ts'))
    .sort()
}

describe('the browser suites', () => {
  it('stay out of npm test, so it passes on a machine without Chromium', async () => {
    const suites = await suitesOf('vitest.config.ts')
    expect(suites.length).toBeGreaterThan(10)
    const offenders = suites
      .map((suite) => ({ suite, use: browserUseOf(join(root, suite)) }))
      .filter(({ use }) => use.playwright.length > 0 || use.launcher.length > 0)
    expect(offenders).toEqual([])
  })

  it('all run in npm run test:browser', async () => {
    const browserSuites = await suitesOf('vitest.browser.config.ts')
    const needing = allSuites().filter((suite) => needsBrowser(join(root, suite)))
    // The detector finds the known browser suites, so the check above can fail.
    expect(needing).toContain('test/e2e/client-chromium.test.ts')
    expect(browserSuites).toEqual(needing)
  })

  it('are run by CI and named in CONTRIBUTING.md', () => {
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<
      string,
      string
    >
    expect(scripts['test:browser']).toContain('vitest.browser.config.ts')
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toContain('npm run test:browser')
    expect(readFileSync(join(root, 'CONTRIBUTING.md'), 'utf8')).toContain('npm run test:browser')
  })
})
