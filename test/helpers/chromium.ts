import type { Browser } from 'playwright-core'

/** The flags every browser test launches Chromium with (headless, no sandbox, quiet). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
]

/**
 * Launches the system Chromium (`/usr/bin/chromium`) headless. Only suites run by
 * `npm run test:browser` (vitest.browser.config.ts) may call it: `npm test` must pass on a
 * machine without a browser, which test/package/browser-suites.test.ts checks.
 *
 * @returns the browser; close it in `afterAll`
 */
export async function launchChromium(): Promise<Browser> {
  // Loaded here rather than at the top so that modules importing only BLANK_PAGE (the
  // framework servers of the default run) never load playwright-core.
  const { chromium } = await import('playwright-core')
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS] })
}

/**
 * A blank same-origin page to open an `EventSource` from: serve it from the server under
 * test so the stream needs no CORS.
 */
export const BLANK_PAGE = '<!doctype html><meta charset="utf-8"><title>taskwire test</title>'

/**
 * Bundles `taskwire/client` (its sources) for the browser as a page would load it: ESM,
 * minified, for the browser platform, so a `node:*` import anywhere under src/client fails.
 *
 * @param options - modules to leave out of the bundle
 * @returns the bundle's bytes
 */
export async function bundleClientForBrowser(options: { external?: string[] } = {}): Promise<Uint8Array> {
  const { build } = await import('esbuild')
  const result = await build({
    entryPoints: ['src/client/index.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
    ...options,
  })
  const bundle = result.outputFiles[0]?.contents
  if (!bundle) throw new Error('esbuild wrote no client bundle')
  return bundle
}
