// Compiles a consumer of every entry's built declarations the way a Node project without
// the DOM library would (`lib: ["ES2022"]`, `types: ["node"]`, `skipLibCheck: false`), so a
// declaration that names a browser-only type (`BodyInit`, `RequestCredentials` ...) fails here
// rather than in a user's build.
//
//   npm run build && node .ci/consumer-types.mjs
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'

const root = new URL('..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
// Inside the package, so `taskwire/...` resolves through the package's own `exports`.
const dir = join(root, 'node_modules', '.cache', 'consumer-types')
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
const lines = Object.keys(pkg.exports)
  .filter((subpath) => !subpath.endsWith('.json'))
  .map((subpath, index) => {
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`
    return `export * as entry${index} from '${specifier}'`
  })
const file = join(dir, 'consumer.ts')
writeFileSync(file, `${lines.join('\n')}\n`)
const program = ts.createProgram([file], {
  lib: ['lib.es2022.d.ts'],
  types: ['node'],
  typeRoots: [join(root, 'node_modules', '@types')],
  skipLibCheck: false,
  strict: true,
  noEmit: true,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
})
const ours = ts
  .getPreEmitDiagnostics(program)
  .filter(
    (diagnostic) =>
      !diagnostic.file || diagnostic.file.fileName.includes('/dist/') || diagnostic.file.fileName === file,
  )
for (const diagnostic of ours) {
  const where = diagnostic.file
    ? `${diagnostic.file.fileName.replace(root, '')}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}`
    : '(global)'
  console.log(`FAIL ${where} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`)
}
if (ours.length === 0)
  console.log(`ok   ${lines.length} entries compile with lib ES2022, types node, skipLibCheck false`)
rmSync(dir, { recursive: true, force: true })
process.exitCode = ours.length === 0 ? 0 : 1
