import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')

/** A module to type-check from memory, and how to name its lines in a diagnostic. */
export interface VirtualModule {
  /** `docs/server.md:32`: where the snippet's fence is. */
  readonly where: string
  readonly fileName: string
  readonly code: string
  /** Lines its context put before the snippet's first line. */
  readonly linesBefore: number
}

/**
 * Type-checks modules as files of this project, with its compiler options, in one program (a
 * program over the sources takes seconds; one per snippet would take minutes on a loaded
 * machine).
 *
 * @param against - `src` (the package names point at the sources, as in tsconfig.json) or
 *   `dist` (at the declarations of the built package, as a user's project sees them)
 * @returns one line per diagnostic: the Markdown line it points at and the message
 */
export function typeErrors(modules: readonly VirtualModule[], against: 'src' | 'dist' = 'src'): string[] {
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
  if (against === 'dist') {
    config.options.paths = { taskwire: ['./dist/index.d.ts'], 'taskwire/*': ['./dist/*.d.ts'] }
  }
  const files = new Map(
    modules.map((module) => [join(root, 'test/package/snippets/virtual', module.fileName), module]),
  )
  const host = ts.createCompilerHost(config.options)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (file) => files.has(file) || fileExists.call(host, file)
  host.readFile = (file) => files.get(file)?.code ?? readFile.call(host, file)
  host.getSourceFile = (file, language, ...rest) => {
    const module = files.get(file)
    return module === undefined
      ? getSourceFile.call(host, file, language, ...rest)
      : ts.createSourceFile(file, module.code, language, true)
  }
  const program = ts.createProgram([...files.keys()], config.options, host)
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    if (!diagnostic.file || diagnostic.start === undefined) return `(global) ${message}`
    const line = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line
    const module = files.get(diagnostic.file.fileName)
    if (module === undefined)
      return `${diagnostic.file.fileName.slice(root.length + 1)}:${line + 1} ${message}`
    const [file, fence = '0'] = module.where.split(':')
    const offset = line - module.linesBefore
    const where = offset >= 0 ? `${file}:${Number(fence) + 1 + offset}` : `${module.where} (its context)`
    return `${where} ${message}`
  })
}
