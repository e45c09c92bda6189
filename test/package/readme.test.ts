import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { entries } from '../../tsup.config.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** The `ts` code blocks of a Markdown file, in order. */
function snippetsOf(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '')
}

/** Points `taskwire` and `taskwire/*` imports at the sources, so no build is needed. */
function resolveSelfImports(code: string): string {
  return code.replace(/from '(taskwire(?:\/[a-z]+)?)'/g, (_, specifier: string) => {
    const name = specifier === 'taskwire' ? 'index' : specifier.slice('taskwire/'.length)
    const source = entries[name as keyof typeof entries]
    return source === undefined
      ? `from '${specifier}'`
      : `from '${join(root, source).replace(/\.ts$/, '.js')}'`
  })
}

/**
 * Type-checks snippets as modules of this project, with its compiler options, from memory.
 *
 * @returns one line per diagnostic: snippet number, line and message
 */
function typeErrors(snippets: string[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
      },
    },
  )
  if (config === undefined) throw new Error('tsconfig.json could not be read')
  const files = new Map(
    snippets.map((code, index) => [join(root, 'test/package/readme', `snippet-${index + 1}.ts`), code]),
  )
  const host = ts.createCompilerHost(config.options)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (file) => files.has(file) || fileExists.call(host, file)
  host.readFile = (file) => files.get(file) ?? readFile.call(host, file)
  host.getSourceFile = (file, language, ...rest) => {
    const code = files.get(file)
    return code === undefined
      ? getSourceFile.call(host, file, language, ...rest)
      : ts.createSourceFile(file, code, language, true)
  }
  const program = ts.createProgram([...files.keys()], config.options, host)
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where =
      diagnostic.file && diagnostic.start !== undefined
        ? `${diagnostic.file.fileName.slice(root.length + 1)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1}`
        : '(global)'
    return `${where} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`
  })
}

describe('README', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const snippets = snippetsOf(readme)

  it('shows the two commands for a fresh clone', () => {
    expect(readme).toContain('npm ci && npm start')
    expect(readme).toContain('npm ci && npm test')
  })

  // One program for both (a program over this project takes seconds): the README's snippets
  // and a bad one, which proves the check can fail.
  it('has TypeScript snippets that compile against the current API', () => {
    const bad = "import { createHubb } from 'taskwire/server'\nexport const hub = createHubb()\n"
    const errors = typeErrors([...snippets, bad].map(resolveSelfImports))
    const badFile = `snippet-${snippets.length + 1}.ts`
    expect(snippets.length).toBeGreaterThanOrEqual(5)
    expect(errors.filter((line) => !line.includes(badFile))).toEqual([])
    expect(errors.filter((line) => line.includes(badFile)).join('\n')).toContain('createHubb')
  })
})
