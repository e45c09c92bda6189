import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

/**
 * Every module an entry reaches, and every package it imports, found by esbuild: the files it
 * bundles and the bare imports it leaves to the app (dependencies stay external here, so an
 * import of `msw` shows as one whatever file makes it).
 */
async function reachedBy(entry: string): Promise<{ files: string[]; packages: string[] }> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const inputs = Object.entries(result.metafile.inputs)
  return {
    files: inputs.map(([path]) => path.replace(/\\/g, '/')),
    packages: [
      ...new Set(inputs.flatMap(([, input]) => input.imports.filter((i) => i.external).map((i) => i.path))),
    ].sort(),
  }
}

const isMsw = (path: string): boolean => /^msw(\/|$)/.test(path) || path.includes('src/msw/')

describe('the msw kit costs apps nothing', () => {
  // test/package/layers.test.ts already fails when a file under src/client or src/react imports
  // src/msw (those layers may import only client and core); it allows `msw` itself there, being
  // a peer dependency. This follows every import from the two entries, packages included.
  it.each(['src/client/index.ts', 'src/react/index.ts'])(
    '%s reaches neither msw nor src/msw',
    async (entry) => {
      const { files, packages } = await reachedBy(entry)
      expect(files.length).toBeGreaterThan(3)
      expect(files.filter(isMsw)).toEqual([])
      expect(packages.filter(isMsw)).toEqual([])
    },
  )

  it('would see msw where it is imported', async () => {
    const { files, packages } = await reachedBy('src/msw/index.ts')
    expect(files.filter(isMsw).length).toBeGreaterThan(3)
    expect(packages).toContain('msw')
  })
})
