import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { defineConfig, type Options } from 'tsup'

/** One bundle per entry point; `test/package/exports.test.ts` checks these match `exports`. */
export const entries = {
  index: 'src/core/index.ts',
  server: 'src/server/index.ts',
  client: 'src/client/index.ts',
  react: 'src/react/index.ts',
  vanilla: 'src/vanilla/index.ts',
  msw: 'src/msw/index.ts',
  redis: 'src/redis/index.ts',
} as const

/** The name of an entry point, which is also the basename of its bundles. */
export type EntryName = keyof typeof entries

/**
 * Entries whose bundles must open with `'use client'`, so that React Server Components
 * frameworks treat them as client modules.
 */
export const useClientEntries: readonly EntryName[] = ['react']

const USE_CLIENT = "'use client';"
const DIRECTIVE = /(['"])use client\1;?/

/**
 * Puts `'use client'` on line 1 of an entry's ESM and CJS bundles. esbuild keeps the source's
 * directive in ESM, but in CJS it lands after `"use strict"` and the `__esModule` marker, where
 * it is no longer part of the directive prologue (ECMA-262 §11.2.1) and bundlers ignore it.
 * The source map is shifted by the lines added or removed so that it still points at the code.
 *
 * @param outDir - the build's output directory
 * @param name - the entry whose bundles get the directive
 */
export async function keepUseClient(outDir: string, name: EntryName): Promise<void> {
  for (const extension of ['js', 'cjs']) {
    const file = join(outDir, `${name}.${extension}`)
    const [first = '', ...others] = (await readFile(file, 'utf8')).split('\n')
    // Only line 1 is looked at: a directive is only a directive in the prologue.
    const stripped = first.replace(DIRECTIVE, '')
    const removedLines = stripped.trim() === '' ? 1 : 0
    const kept = removedLines === 1 ? others : [stripped, ...others]
    await writeFile(file, [USE_CLIENT, ...kept].join('\n'))
    const mapFile = `${file}.map`
    const map = JSON.parse(await readFile(mapFile, 'utf8')) as { mappings: string }
    map.mappings = `;${map.mappings.split(';').slice(removedLines).join(';')}`
    await writeFile(mapFile, JSON.stringify(map))
  }
}

/**
 * The build options, with the output directory as a parameter so that a test can build into
 * a temporary directory with exactly the settings of the published build.
 *
 * @param outDir - where the bundles go
 * @returns tsup options for every entry, ESM and CJS, each with its own declaration files
 */
export function buildOptions(outDir = 'dist'): Options {
  return {
    entry: entries,
    outDir,
    format: ['esm', 'cjs'],
    // tsup writes `.d.ts` next to ESM and `.d.cts` next to CJS, so each condition of `exports`
    // gets types of its own module kind ("masquerading as ESM" in attw's terms otherwise).
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    // Entries share chunks instead of each carrying a copy of core: one module instance per
    // process however many entries an app imports. No `treeshake`: it re-bundles esbuild's
    // output with rollup, which drops module directives and adds nothing that esbuild's own
    // tree shaking and the app's bundler do not already do.
    splitting: true,
    onSuccess: async () => {
      for (const name of useClientEntries) await keepUseClient(outDir, name)
    },
  }
}

export default defineConfig(buildOptions())
