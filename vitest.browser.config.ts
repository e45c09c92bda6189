import { defineConfig } from 'vitest/config'

/**
 * The suites that drive a real browser (the system Chromium through playwright-core). They run
 * with `npm run test:browser`, never with `npm test`, so a fresh clone passes `npm test` with
 * nothing installed by hand; CI installs Chromium and runs both.
 */
export const BROWSER_SUITES: readonly string[] = ['test/e2e/*chromium*.test.ts']

export default defineConfig({
  test: {
    include: [...BROWSER_SUITES],
    // Launching a browser on a loaded two-core machine can take seconds on its own.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    restoreMocks: true,
  },
})
