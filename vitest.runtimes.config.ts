import { defineConfig } from 'vitest/config'

/**
 * The suites that run the built package in other runtimes: Bun, Deno, workerd and a Next.js
 * app built and started for the run. They are slow (a Next.js build takes a while on two
 * cores), so `npm run test:runtimes` runs them, never `npm test`: their files end in
 * `.spec.ts`, which vitest.config.ts does not include. They need `npm run build` first.
 */
export default defineConfig({
  test: {
    include: ['test/runtimes/*.spec.ts'],
    globalSetup: ['test/runtimes/support/built.ts'],
    // One runtime at a time: two at once on a two-core machine make timings unreliable.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 240_000,
  },
})
