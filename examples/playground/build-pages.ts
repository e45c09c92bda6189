import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '../..')

/** The dashboard's built files, served from memory. */
export interface BuiltPages {
  /** The JavaScript bundle (React, taskwire's client and hooks, the five panels). */
  readonly js: Uint8Array
  /** The stylesheet the panels import. */
  readonly css: Uint8Array
  /** How long the build took. */
  readonly ms: number
}

/**
 * Reports each module as the bundler loads it, so a slow first build shows progress.
 *
 * @param onModule - called with the count of modules loaded so far and the latest one's path
 */
function progress(onModule: (count: number, path: string) => void): Plugin {
  return {
    name: 'progress',
    setup(builder) {
      let count = 0
      builder.onLoad({ filter: /.*/ }, (args) => {
        onModule(++count, relative(root, args.path))
        return undefined
      })
    },
  }
}

/**
 * Builds the dashboard with esbuild from the repository's own dependencies (React, the
 * panels, taskwire's sources through tsconfig.json's `paths`): no CDN, nothing downloaded.
 *
 * @param onModule - progress, called per module loaded
 * @returns the bundle and stylesheet
 * @throws the bundler's error when a page does not compile
 */
export async function buildPages(
  onModule: (count: number, path: string) => void = () => {},
): Promise<BuiltPages> {
  const started = performance.now()
  const result = await build({
    entryPoints: { dashboard: join(here, 'dashboard/main.tsx') },
    absWorkingDir: root,
    tsconfig: join(root, 'tsconfig.json'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    minify: true,
    sourcemap: false,
    write: false,
    outdir: 'out',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [progress(onModule)],
  })
  const file = (ext: string): Uint8Array => {
    const found = result.outputFiles.find((output) => output.path.endsWith(ext))
    if (!found) throw new Error(`the dashboard build wrote no ${ext} file`)
    return found.contents
  }
  return { js: file('.js'), css: file('.css'), ms: Math.round(performance.now() - started) }
}
