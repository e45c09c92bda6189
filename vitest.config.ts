import { configDefaults, defineConfig } from 'vitest/config'
import { BROWSER_SUITES, SOURCE_ALIASES } from './vitest.browser.config.js'

export default defineConfig({
  resolve: { alias: SOURCE_ALIASES },
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx', 'examples/**/*.test.ts'],
    // Browser suites need Chromium: `npm run test:browser` runs them (vitest.browser.config.ts).
    exclude: [...configDefaults.exclude, ...BROWSER_SUITES],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    restoreMocks: true,
  },
})
