import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build as bundle } from 'esbuild'
import { build } from 'tsup'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildOptions, entries } from '../../tsup.config.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
// Inside node_modules so that the bundle resolves zod like the package does.
const cacheDir = join(root, 'node_modules', '.cache')
let outDir = ''

// The published build of the core entry, not the source: tsup concatenates every core module
// into one file (the shared chunk, or index.js alone), so `"sideEffects": false` cannot drop a
// module there and only what a bundler can prove pure goes away (issue 8).
beforeAll(async () => {
  await mkdir(cacheDir, { recursive: true })
  outDir = await mkdtemp(join(cacheDir, 'taskwire-tree-shaking-'))
  // Without `onSuccess`, which edits the react bundles this build does not make.
  const { onSuccess: _onSuccess, ...options } = buildOptions(outDir)
  await build({
    ...options,
    entry: { index: entries.index },
    dts: false,
    sourcemap: false,
    silent: true,
    config: false,
  })
  await writeFile(join(outDir, 'package.json'), '{ "type": "module", "sideEffects": false }\n')
})

afterAll(async () => {
  if (outDir !== '') await rm(outDir, { recursive: true, force: true })
})

/** What an app's browser bundle holds when it imports `names` from the core entry. */
interface AppBundle {
  /** The bundle's size after `gzip -9`. */
  gzipBytes: number
  /** The zod files that contributed code to the bundle. */
  zodFiles: string[]
  /** The bundle's file, to import. */
  file: string
}

/**
 * Bundles a file that re-exports only `names` from the built core entry, the way the size
 * targets are measured: esbuild, browser platform, ESM, minified.
 *
 * @param names - the exports the app imports
 * @returns the bundle's gzipped size, the zod files in it and its path
 */
async function appBundle(names: readonly string[]): Promise<AppBundle> {
  const base = join(outDir, `app-${names.join('-')}`)
  await writeFile(`${base}.entry.js`, `export { ${names.join(', ')} } from './index.js'\n`)
  const result = await bundle({
    entryPoints: [`${base}.entry.js`],
    outfile: `${base}.bundle.js`,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    metafile: true,
    write: false,
    logLevel: 'silent',
  })
  const output = result.outputFiles[0]
  if (output === undefined) throw new Error('esbuild wrote no bundle')
  await writeFile(output.path, output.contents)
  const inputs = Object.values(result.metafile.outputs)[0]?.inputs ?? {}
  const zodFiles = Object.entries(inputs)
    .filter(([path, input]) => /[\\/]zod[\\/]/.test(path) && input.bytesInOutput > 0)
    .map(([path]) => path)
  return { gzipBytes: gzipSync(output.contents, { level: 9 }).length, zodFiles, file: output.path }
}

describe('an app that imports part of the core entry ships no zod', () => {
  it.each([
    [['formatEvent']],
    [['encodeEvent']],
    [['reduceRun', 'initialRunState']],
    [['createRunFold', 'initialRunState']],
    [['TaskwireError', 'TaskwireHttpError', 'TaskwireValidationError', 'isTaskwireError']],
    [['compareEventIds', 'isSeenEventId']],
    [['isTerminalEventType', 'terminalEventTypes']],
    [['isReservedEventType']],
  ])('importing %j', async (names) => {
    expect((await appBundle(names)).zodFiles).toEqual([])
  })

  it('while an app that imports the default catalog does get zod', async () => {
    // The check above can see zod: without this, an empty file list would prove nothing.
    expect((await appBundle(['defaultCatalog'])).zodFiles.length).toBeGreaterThan(0)
  })

  it('keeps formatEvent alone within 1 KiB gzipped, and it still writes frames', async () => {
    const app = await appBundle(['formatEvent'])
    expect(app.gzipBytes).toBeLessThanOrEqual(1024)
    const { formatEvent } = (await import(
      pathToFileURL(app.file).href
    )) as typeof import('../../src/core/index.js')
    expect(formatEvent({ id: '1', event: 'task.status', data: '{}' })).toBe(
      'id: 1\nevent: task.status\ndata: {}\n\n',
    )
  })

  it('keeps reduceRun with initialRunState within 3 KiB gzipped, and it still folds', async () => {
    const app = await appBundle(['reduceRun', 'initialRunState'])
    expect(app.gzipBytes).toBeLessThanOrEqual(3072)
    const { reduceRun, initialRunState } = (await import(
      pathToFileURL(app.file).href
    )) as typeof import('../../src/core/index.js')
    const state = reduceRun(initialRunState, {
      type: 'task.created',
      stream: 'job-7',
      id: '1',
      ts: '2025-01-01T00:00:00.000Z',
      data: { taskId: 't1', title: 'Fetch' },
    })
    expect(state.tasks.map((task) => [task.id, task.title, task.status])).toEqual([
      ['t1', 'Fetch', 'pending'],
    ])
    expect(state.lastEventId).toBe('1')
  })
})
