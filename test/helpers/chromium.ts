import { type Browser, chromium } from 'playwright-core'

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
 * Launches the system Chromium (`/usr/bin/chromium`) headless.
 *
 * @returns the browser; close it in `afterAll`
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS] })
}

/**
 * A blank same-origin page to open an `EventSource` from: serve it from the server under
 * test so the stream needs no CORS.
 */
export const BLANK_PAGE = '<!doctype html><meta charset="utf-8"><title>taskwire test</title>'
