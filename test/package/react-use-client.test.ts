import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'tsup'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildOptions, entries, keepUseClient } from '../../tsup.config.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
// Inside node_modules so that the bundles resolve zod, react and the rest like the package does.
const cacheDir = join(root, 'node_modules', '.cache')
let outDir = ''

/** The first line of a file. */
async function firstLine(file: string): Promise<string> {
  return (await readFile(file, 'utf8')).split('\n')[0] ?? ''
}

// The published build, not a stand-in: the same options (and the same onSuccess step) as
// `npm run build`, into a temporary directory, so `npm test` needs no prior build. Without
// declarations it takes well under a second.
beforeAll(async () => {
  await mkdir(cacheDir, { recursive: true })
  outDir = await mkdtemp(join(cacheDir, 'taskwire-use-client-'))
  await build({
    ...buildOptions(outDir),
    entry: { react: entries.react },
    dts: false,
    silent: true,
    config: false,
  })
  // The published package.json says `"type": "module"`; node_modules ends the lookup for one.
  await writeFile(join(outDir, 'package.json'), '{ "type": "module" }\n')
})

afterAll(async () => {
  if (outDir !== '') await rm(outDir, { recursive: true, force: true })
})

describe("the react bundles keep 'use client'", () => {
  it('as line 1 of the ESM and the CJS bundle', async () => {
    expect(await firstLine(join(outDir, 'react.js'))).toBe("'use client';")
    expect(await firstLine(join(outDir, 'react.cjs'))).toBe("'use client';")
  })

  it('with the source maps shifted by the added line', async () => {
    for (const file of ['react.js.map', 'react.cjs.map']) {
      const map = JSON.parse(await readFile(join(outDir, file), 'utf8')) as { mappings: string }
      expect(map.mappings.startsWith(';'), file).toBe(true)
    }
  })

  it('and the bundles still load in both module systems', () => {
    // A child Node process, so that the bundles load the way users load them rather than
    // through the test runner's module transform.
    const script = [
      "import { createRequire } from 'node:module'",
      `const esm = await import(${JSON.stringify(pathToFileURL(join(outDir, 'react.js')).href)})`,
      `const cjs = createRequire(import.meta.url)(${JSON.stringify(join(outDir, 'react.cjs'))})`,
      'console.log(JSON.stringify([Object.keys(esm).sort(), Object.keys(cjs).sort()]))',
    ].join('\n')
    const output = execFileSync(process.execPath, ['--input-type=module', '--eval', script], {
      encoding: 'utf8',
    })
    const [esmKeys, cjsKeys] = JSON.parse(output) as [string[], string[]]
    expect(esmKeys).toEqual(cjsKeys)
  })

  it('once, however often the step runs', async () => {
    const before = await readFile(join(outDir, 'react.cjs'), 'utf8')
    await keepUseClient(outDir, 'react')
    expect(await readFile(join(outDir, 'react.cjs'), 'utf8')).toBe(before)
    expect(before.match(/use client/g)).toHaveLength(1)
  })

  it('as declared in the source, which tools that read src/ rely on', async () => {
    expect(await firstLine(join(root, entries.react))).toBe('/**')
    expect(await readFile(join(root, entries.react), 'utf8')).toMatch(/^'use client'$/m)
  })
})
