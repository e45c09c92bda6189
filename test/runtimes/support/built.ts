// vitest's global setup for the runtime suites: they run the built package, so it must exist
// and be newer than every source file.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './scratch.js'

/** Fails the run when dist/ is missing or older than src/: `npm run build` first. */
export default function setup(): void {
  const built = ['dist/server.js', 'dist/client.js'].map((file) => join(ROOT, file))
  const missing = built.filter((file) => !existsSync(file))
  if (missing.length > 0) throw new Error(`${missing.join(', ')} missing: run npm run build first.`)
  const builtAt = Math.min(...built.map((file) => statSync(file).mtimeMs))
  const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .map((file) => join(ROOT, 'src', file))
    .filter((file) => file.endsWith('.ts') && statSync(file).mtimeMs > builtAt)
  if (sources.length > 0) {
    throw new Error(`dist/ is older than ${sources.slice(0, 3).join(', ')}: run npm run build first.`)
  }
}
