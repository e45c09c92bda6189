// Loads every entry of the built package the way users do, through the package's own name
// (so through `exports`), with `import` and with `require`, and checks that both module
// systems expose the same names. attw checks the types resolve; this checks the code runs,
// including the CommonJS chunks tsup splits out.
//
//   npm run build && node .ci/load-dist.mjs
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const require = createRequire(import.meta.url)
let failed = false

for (const subpath of Object.keys(pkg.exports)) {
  if (subpath.endsWith('.json')) continue
  const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`
  const esm = Object.keys(await import(specifier)).sort()
  const cjs = Object.keys(require(specifier)).sort()
  const same = esm.length === cjs.length && esm.every((name, index) => name === cjs[index])
  console.log(`${same ? 'ok  ' : 'FAIL'} ${specifier}: ${esm.length} exports`)
  if (!same) {
    console.log(`  import only: ${esm.filter((name) => !cjs.includes(name)).join(', ') || '-'}`)
    console.log(`  require only: ${cjs.filter((name) => !esm.includes(name)).join(', ') || '-'}`)
    failed = true
  }
}
process.exitCode = failed ? 1 : 0
