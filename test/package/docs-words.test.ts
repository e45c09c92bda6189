import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/**
 * Words that speak of our own workshop instead of the user's system: the design cards the
 * package was built from, paths of a build machine, and our test files. README.md, docs/ and
 * the TSDoc that typedoc publishes are read by users, who have none of these.
 */
const FORBIDDEN: readonly { readonly name: string; readonly pattern: RegExp }[] = [
  { name: 'the design cards folder', pattern: /shared\/cards/i },
  { name: 'a design card by number', pattern: /\bcards?[ -][1-5]\b|\bcards [1-5] and [1-5]\b/i },
  { name: 'a path of a build machine', pattern: /(?:^|[\s`'"(=])\/(?:tmp|work)\//m },
  { name: 'a test file of this repository', pattern: /\btest\/[\w/.-]+\.tsx?\b/ },
]

/** One line per forbidden word found: where, which rule, and the line itself. */
function findings(file: string, text: string, firstLine = 1): string[] {
  return text
    .split('\n')
    .flatMap((line, index) =>
      FORBIDDEN.filter(({ pattern }) => pattern.test(line)).map(
        ({ name }) => `${file}:${firstLine + index} ${name}: ${line.trim()}`,
      ),
    )
}

/** The comments of a TypeScript file, each with the line it starts on. */
function commentsOf(file: string): { line: number; text: string }[] {
  const code = readFileSync(file, 'utf8')
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest)
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, code)
  const comments: { line: number; text: string }[] = []
  for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
    if (token === ts.SyntaxKind.SingleLineCommentTrivia || token === ts.SyntaxKind.MultiLineCommentTrivia) {
      const line = source.getLineAndCharacterOfPosition(scanner.getTokenStart()).line + 1
      comments.push({ line, text: scanner.getTokenText() })
    }
  }
  return comments
}

/**
 * README.md, the guides in docs/ (not the generated API reference in docs/api/) and the
 * example applications' READMEs.
 */
function userDocs(): string[] {
  const guides = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
  const examples = readdirSync(join(root, 'examples'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `examples/${entry.name}/README.md`)
    .filter((file) => existsSync(join(root, file)))
  return ['README.md', ...guides, ...examples]
}

/** Every TypeScript file under src/, repository-relative. */
function sources(): string[] {
  return readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => `src/${file}`)
}

describe('the words users read', () => {
  it("name no design card, build machine path or test file in README.md, docs/ and the examples' READMEs", () => {
    const files = userDocs()
    expect(files).toContain('docs/events.md')
    expect(files).toContain('examples/flow-executor/README.md')
    expect(files.flatMap((file) => findings(file, readFileSync(join(root, file), 'utf8')))).toEqual([])
  })

  it('name no design card, build machine path or test file in the comments under src/', () => {
    const files = sources()
    expect(files.length).toBeGreaterThan(10)
    const found = files.flatMap((file) =>
      commentsOf(join(root, file)).flatMap(({ line, text }) => findings(file, text, line)),
    )
    expect(found).toEqual([])
  })

  it('catches each kind of word it forbids', () => {
    const bad = [
      'Each card under `/work/shared/cards/` describes a system.',
      "card 2's fallback",
      'Runs started by a POST (cards 3 and 4)',
      'Every card-5 update',
      'written to /tmp/build/out.json',
      'measured in `test/e2e/frameworks.test.ts`',
    ]
    expect(bad.map((line) => findings('x.md', line).length > 0)).toEqual(bad.map(() => true))
    expect(findings('x.md', 'a scorecard 2 times; /api/work/1; discard 3 frames')).toEqual([])
    expect(commentsOf(join(root, 'src/core/index.ts')).length).toBeGreaterThan(0)
  })
})
