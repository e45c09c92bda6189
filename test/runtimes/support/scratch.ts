import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository's root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..')

/** A runtime fixture's own project folder, outside the repository. */
export interface Scratch {
  /** The folder: the fixtures, a package.json and node_modules. */
  readonly dir: string
  /** Removes the folder. */
  remove(): void
}

/**
 * Lays out a project as an app would have it: the fixtures of test/runtimes/fixtures, and a
 * node_modules holding `taskwire` as npm installs it (package.json and dist/, copied now, so a
 * rebuild during the run changes nothing) with its dependencies, so `taskwire/server` is the
 * built package through its `exports`, never the sources. Each name of `packages` links to
 * the repository's installed copy.
 *
 * @param packages - other packages the project uses (`next`, `react` ...)
 * @returns the folder
 */
export function createScratch(packages: readonly string[] = []): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-runtime-'))
  cpSync(join(ROOT, 'test/runtimes/fixtures'), dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`)
  mkdirSync(join(dir, 'node_modules/@types'), { recursive: true })
  const installed = join(dir, 'node_modules/taskwire')
  mkdirSync(installed)
  cpSync(join(ROOT, 'package.json'), join(installed, 'package.json'))
  cpSync(join(ROOT, 'dist'), join(installed, 'dist'), { recursive: true })
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>
  }
  for (const name of [...Object.keys(manifest.dependencies), ...packages])
    symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name), 'dir')
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Where a runtime's platform package keeps its binary, for when its postinstall did not run. */
const PLATFORM_BINARIES: Record<string, string> = {
  bun: `@oven/bun-${process.platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}/bin/bun`,
  deno: `@deno/${process.platform}-${process.arch === 'arm64' ? 'arm64' : 'x64'}-glibc/deno`,
  workerd: `@cloudflare/workerd-${process.platform}-${process.arch === 'arm64' ? 'arm64' : '64'}/bin/workerd`,
}

/**
 * The path of a binary an npm package of the repository installed (`bun`, `deno`, `workerd`):
 * the platform package's own binary when it is there (an install that skipped postinstall
 * scripts leaves Bun's `bin/bun.exe` a placeholder), else the one in node_modules/.bin.
 *
 * @param name - the binary's name
 * @returns its path
 */
export function binary(name: string): string {
  const direct = PLATFORM_BINARIES[name]
  if (direct !== undefined && existsSync(join(ROOT, 'node_modules', direct)))
    return join(ROOT, 'node_modules', direct)
  return join(ROOT, 'node_modules/.bin', name)
}
