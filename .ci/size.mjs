// Checks the bundle sizes of issue 8: for each check, a file that imports only the named
// exports from the built package (by its package name, so through `exports`) is bundled for
// the browser with esbuild, minified and gzipped at level 9, then compared with its limit.
//
//   npm run build && npm run size
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

/**
 * The checks: what a file imports (specifier → names), the packages left out of the bundle
 * (`external`: an app's own copy of React is not ours to count), and the limit in gzipped bytes.
 */
const checks = [
  { name: 'connect', imports: { 'taskwire/client': ['connect'] }, limit: 6144 },
  {
    name: 'connect + createRunStore + reduceRun + initialRunState',
    imports: { 'taskwire/client': ['connect', 'createRunStore'], taskwire: ['reduceRun', 'initialRunState'] },
    limit: 9216,
  },
  {
    // The hooks over `connect` with the run-state fold: at most 2 KiB more than the line above.
    name: 'taskwire/react: its four hooks (react external)',
    imports: { 'taskwire/react': ['useRun', 'useEvent', 'useConnectionStatus', 'useExecution'] },
    external: ['react'],
    limit: 9216 + 2048,
  },
  { name: 'formatEvent', imports: { taskwire: ['formatEvent'] }, limit: 1024 },
  {
    name: 'reduceRun + initialRunState',
    imports: { taskwire: ['reduceRun', 'initialRunState'] },
    limit: 3072,
  },
]

const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
// A scratch project whose node_modules holds the package as a link to this repo, so that
// 'taskwire/client' resolves through the exports map to dist/, exactly as in an app.
const scratch = mkdtempSync(join(tmpdir(), 'taskwire-size-'))
mkdirSync(join(scratch, 'node_modules'))
symlinkSync(root, join(scratch, 'node_modules', pkg.name), 'dir')

/**
 * Bundles one check the way the targets are measured.
 *
 * @param check - a row of `checks`
 * @param index - its position, for the entry file's name
 * @returns the gzipped size in bytes, or the error that stopped the bundle
 */
async function measure(check, index) {
  const lines = Object.entries(check.imports).map(
    ([specifier, names]) => `export { ${names.join(', ')} } from '${specifier}'`,
  )
  const entry = join(scratch, `check-${index}.js`)
  writeFileSync(entry, `${lines.join('\n')}\n`)
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      external: check.external ?? [],
      write: false,
      logLevel: 'silent',
    })
    const code = result.outputFiles[0]?.contents ?? new Uint8Array()
    return { bytes: gzipSync(code, { level: 9 }).length, error: null }
  } catch (error) {
    // esbuild reports an import of a name the package does not export ("No matching export")
    // as a build error: the check fails and says which name is missing.
    const messages = error?.errors?.map((message) => message.text) ?? [String(error)]
    const unbuilt = messages.some((text) => text.startsWith(`Could not resolve "${pkg.name}`))
    return { bytes: null, error: `${messages.join('; ')}${unbuilt ? ' (run `npm run build` first)' : ''}` }
  }
}

let failed = false
const rows = []
try {
  for (const [index, check] of checks.entries()) {
    const { bytes, error } = await measure(check, index)
    const ok = bytes !== null && bytes <= check.limit
    if (!ok) failed = true
    rows.push({ ok, name: check.name, bytes, limit: check.limit, error })
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

const width = Math.max(...rows.map((row) => row.name.length))
console.log(`     ${'check'.padEnd(width)}  ${'gzip B'.padStart(7)}  ${'limit B'.padStart(7)}`)
for (const row of rows) {
  const bytes = row.bytes === null ? 'error' : String(row.bytes)
  console.log(
    `${row.ok ? 'ok  ' : 'FAIL'} ${row.name.padEnd(width)}  ${bytes.padStart(7)}  ${String(row.limit).padStart(7)}`,
  )
  if (row.error !== null) console.log(`       ${row.error}`)
}
process.exitCode = failed ? 1 : 0
