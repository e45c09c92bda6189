import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

/**
 * The suites that drive a real browser (the system Chromium through playwright-core). They run
 * with `npm run test:browser`, never with `npm test`, so a fresh clone passes `npm test` with
 * nothing installed by hand; CI installs Chromium and runs both.
 */
export const BROWSER_SUITES: readonly string[] = ['test/e2e/*chromium*.test.ts']

/**
 * The examples import `taskwire` and `taskwire/server` as an app would; here those names point
 * at the sources, as tsconfig.json's `paths` say for the type checker, tsx and esbuild.
 */
export const SOURCE_ALIASES = [
  { find: /^taskwire$/, replacement: fileURLToPath(new URL('./src/core/index.ts', import.meta.url)) },
  { find: /^taskwire\/(\w+)$/, replacement: fileURLToPath(new URL('./src/$1/index.ts', import.meta.url)) },
]

export default defineConfig({
  resolve: { alias: SOURCE_ALIASES },
  test: {
    include: [...BROWSER_SUITES],
    // Launching a browser on a loaded two-core machine can take seconds on its own.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    restoreMocks: true,
  },
})
