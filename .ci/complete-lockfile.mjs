// Adds to package-lock.json the other platforms' optional native packages (biome's, rollup's,
// oxc's ... for macOS, Windows, musl) that `npm install` left out because the registry it
// used did not serve them. `npm ci` refuses a lockfile without them ("Missing: ... from lock
// file"), even though it would skip them on this platform. Each entry gets the `os`, `cpu`
// and `libc` its name implies, which is what lets `npm ci` skip it without fetching it.
//
//   node .ci/complete-lockfile.mjs && npm ci --dry-run
import { readFileSync, writeFileSync } from 'node:fs'

const file = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(file, 'utf8'))
const packages = lock.packages

/** `@scope/cli-linux-arm64-musl` → os linux, cpu arm64, libc musl. */
function platformOf(name) {
  const base = name
    .split('/')
    .at(-1)
    .replace(/^(cli|rollup|binding)-/, '')
  if (base.startsWith('wasm32')) return { cpu: ['wasm32'] }
  const [os, cpu, ...rest] = base.split('-')
  const platform = { os: [os], cpu: [cpu] }
  if (os === 'linux') platform.libc = [rest.some((part) => part.includes('musl')) ? 'musl' : 'glibc']
  return platform
}

/** Whether node would find `name` from the package at `path` (its own node_modules, then up). */
function isInstalled(path, name) {
  let prefix = path
  for (;;) {
    if (packages[`${prefix === '' ? '' : `${prefix}/`}node_modules/${name}`]) return true
    if (prefix === '') return false
    const cut = prefix.lastIndexOf('/node_modules/')
    prefix = cut === -1 ? '' : prefix.slice(0, cut)
  }
}

const added = []
for (const [path, meta] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    if (isInstalled(path, name)) continue
    if (!/^\d+\.\d+\.\d+$/.test(version)) {
      console.warn(`left out ${name}@${version}: not an exact version`)
      continue
    }
    packages[`node_modules/${name}`] = {
      version,
      ...(meta.dev ? { dev: true } : {}),
      optional: true,
      ...platformOf(name),
    }
    added.push(`${name}@${version}`)
  }
}

writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`)
console.log(added.length === 0 ? 'nothing to add' : `added ${added.length}:\n  ${added.join('\n  ')}`)
