import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { entries } from '../../tsup.config.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

interface Conditions {
  types: string
  default: string
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  main: string
  module: string
  types: string
  sideEffects: boolean
  exports: Record<string, { import: Conditions; require: Conditions } | string>
  typesVersions: Record<string, Record<string, string[]>>
}
const typedoc = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as { entryPoints: string[] }

/** The `exports` key of a tsup entry: `index` is the package root. */
const subpathOf = (name: string): string => (name === 'index' ? '.' : `./${name}`)

const names = Object.keys(entries)

describe('package entry points', () => {
  it('exports exactly the bundles tsup builds, plus package.json', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual([...names.map(subpathOf), './package.json'].sort())
    expect(pkg.exports['./package.json']).toBe('./package.json')
  })

  it.each(names)('maps %s to its ESM and CJS bundles, each with its own types listed first', (name) => {
    const conditions = pkg.exports[subpathOf(name)]
    expect(conditions).toEqual({
      import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
      require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
    })
    // Resolution takes the first matching condition, so `types` must precede `default`.
    const { import: esm, require: cjs } = conditions as { import: Conditions; require: Conditions }
    expect(Object.keys(conditions as object)).toEqual(['import', 'require'])
    expect(Object.keys(esm)).toEqual(['types', 'default'])
    expect(Object.keys(cjs)).toEqual(['types', 'default'])
  })

  it('points the legacy main, module and types fields at the root bundles', () => {
    expect(pkg.main).toBe('./dist/index.cjs')
    expect(pkg.module).toBe('./dist/index.js')
    expect(pkg.types).toBe('./dist/index.d.cts')
    expect(pkg.sideEffects).toBe(false)
  })

  it('maps every subpath in typesVersions for TypeScript resolving without exports', () => {
    const subpaths = names.filter((name) => name !== 'index')
    expect(pkg.typesVersions).toEqual({
      '*': Object.fromEntries(subpaths.map((name) => [name, [`./dist/${name}.d.cts`]])),
    })
  })

  it('builds every entry from a file that exists and documents it with typedoc', () => {
    for (const source of Object.values(entries)) expect(existsSync(join(root, source)), source).toBe(true)
    expect([...typedoc.entryPoints].sort()).toEqual(Object.values(entries).sort())
  })
})
