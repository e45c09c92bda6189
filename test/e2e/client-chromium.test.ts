import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunState } from '../../src/core/index.js'
import { createHub } from '../../src/server/hub.js'
import type { Hub } from '../../src/server/types.js'
import { type StreamServer, startStreamServer } from '../client/stream-server.js'
import { bundleClientForBrowser, launchChromium } from '../helpers/chromium.js'

interface PageResult {
  ids: number[]
  state: RunState
  error: { code: string; status?: number } | null
  statuses: string[]
  stats: { attempts: number; reconnects: number }
}

const EVENTS = 300

describe('the client bundle in Chromium', () => {
  let dir: string
  let hub: Hub
  let server: StreamServer
  let browser: Browser
  let page: Page
  let bundleBytes = 0
  let ownBytes = 0

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskwire-client-'))
    const whole = await bundleClientForBrowser()
    await writeFile(join(dir, 'client.js'), whole)
    bundleBytes = whole.byteLength
    ownBytes = (await bundleClientForBrowser({ external: ['zod'] })).byteLength
    await writeFile(
      join(dir, 'page.html'),
      '<!doctype html><script type="module">import * as taskwire from "/client.js"; window.taskwire = taskwire; window.ready = true</script>',
    )
    hub = createHub({ heartbeatMs: 200, retryMs: 50 })
    server = await startStreamServer(hub, {
      '/page.html': join(dir, 'page.html'),
      '/client.js': join(dir, 'client.js'),
    })
    browser = await launchChromium()
    page = await browser.newPage()
    await page.goto(`${server.origin}/page.html`)
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true)
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await hub?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  /**
   * Starts connect() in the page with the transport exported under `transport` (say,
   * `fetchTransport`); resolves when the page's stream closes.
   */
  function runInPage(path: string, transport: string, method = 'GET'): Promise<PageResult> {
    return page.evaluate(
      ({ url, transport, method }) => {
        type Handle = {
          on(type: string, fn: (event: { id: string }) => void): void
          onStatus(fn: (status: string) => void): void
          subscribe(fn: () => void): void
          status: string
          error: { code: string; status?: number } | null
          stats(): { attempts: number; reconnects: number }
        }
        const w = window as unknown as {
          taskwire: {
            connect(url: string, options: object): Handle
            createRunStore(handle: Handle): { getState(): unknown; subscribe(fn: () => void): void }
          } & Record<string, unknown>
          current?: Handle
        }
        const ids: number[] = []
        const statuses: string[] = []
        const stream = w.taskwire.connect(url, {
          transport: w.taskwire[transport],
          method,
          backoff: { initialMs: 20, maxMs: 200 },
          pollIntervalMs: 30,
          onError: () => {},
        })
        w.current = stream
        const run = w.taskwire.createRunStore(stream)
        run.subscribe(() => {})
        // Ids are <epoch>-<seq>; the sequence counts every event of the stream from 1.
        stream.on('*', (event) => ids.push(Number(event.id.slice(event.id.indexOf('-') + 1))))
        stream.onStatus((status) => statuses.push(status))
        return new Promise((resolve) => {
          const done = () => {
            if (stream.status !== 'closed') return
            const error = stream.error ? { code: stream.error.code, status: stream.error.status } : null
            resolve({ ids, state: run.getState(), error, statuses, stats: stream.stats() } as never)
          }
          stream.subscribe(done)
          done()
        })
      },
      { url: `${server.origin}${path}`, transport, method },
    )
  }

  function pageStatus(): Promise<string | undefined> {
    return page.evaluate(() => (window as unknown as { current?: { status: string } }).current?.status)
  }

  it('builds for the browser platform without Node built-ins, within a size bound', () => {
    // The client validates through a catalog's Standard Schema interface, so the whole entry,
    // every transport included, stays near its own code's size with zod bundled or not.
    expect(bundleBytes).toBeLessThan(40_000)
    expect(ownBytes).toBeLessThan(40_000)
    console.info(`[chromium] client bundle: ${bundleBytes} bytes minified with zod, ${ownBytes} without`)
  })

  it('ships only the transport an app imports, and no zod until it passes a catalog', async () => {
    /** The files an app ships that imports `names` from the client (and `core` from the core entry). */
    const shipped = async (names: string[], core: string[] = []) => {
      const result = await build({
        stdin: {
          contents: `export { ${names.join(', ')} } from './src/client/index.ts'\n${core.length > 0 ? `export { ${core.join(', ')} } from './src/core/index.ts'` : ''}`,
          resolveDir: process.cwd(),
          loader: 'ts',
        },
        bundle: true,
        format: 'esm',
        platform: 'browser',
        minify: true,
        write: false,
        metafile: true,
        logLevel: 'silent',
      })
      const inputs = Object.values(result.metafile.outputs)[0]?.inputs ?? {}
      return Object.entries(inputs)
        .filter(([, input]) => input.bytesInOutput > 0)
        .map(([path]) => path.replace(/\\/g, '/'))
    }
    const lean = await shipped(['connect', 'fetchTransport'])
    expect(lean.filter((path) => path.includes('/zod/'))).toEqual([])
    expect(lean.filter((path) => /transports\/(?!fetch)/.test(path))).toEqual([])
    expect(lean.some((path) => path.endsWith('transports/fetch.ts'))).toBe(true)
    // The checks above can see zod and the other transports: without this they would prove nothing.
    const full = await shipped(
      ['connect', 'autoTransport', 'webSocketTransport', 'pollingTransport'],
      ['defaultCatalog'],
    )
    expect(
      full.filter((path) => /transports\/(auto|eventsource|websocket|polling)\.ts$/.test(path)),
    ).toHaveLength(4)
    expect(full.some((path) => path.includes('/zod/'))).toBe(true)
  })

  it.each([
    ['eventsource', 'eventSourceTransport', 'events', 'GET'],
    ['fetch', 'fetchTransport', 'events', 'POST'],
    ['websocket', 'webSocketTransport', 'ws', 'GET'],
    ['polling', 'pollingTransport', 'poll', 'GET'],
  ] as const)(
    'receives a run over %s exactly once across server-side drops',
    async (name, transport, route, method) => {
      const stream = `browser-${name}`
      const result = runInPage(`/${route}/${stream}`, transport, method)
      await page.waitForFunction(
        () => (window as unknown as { current?: { status: string } }).current?.status === 'open',
      )
      await hub.publish(stream, 'run.started', { nodes: [{ nodeId: 'a' }, { nodeId: 'b' }] })
      for (let i = 2; i <= EVENTS; i++) {
        await hub.publish(stream, 'node.progress', { nodeId: i % 2 ? 'a' : 'b', percent: i % 100 })
        // Cut every connection twice during the run: the page must reconnect and resume.
        if (i === 100 || i === 200) server.cutAll()
      }
      await hub.publish(stream, 'run.completed', { output: { ok: true } })
      const final = await result
      expect(final.error).toBeNull()
      expect(final.ids).toEqual(Array.from({ length: EVENTS + 1 }, (_, i) => i + 1))
      expect(final.state).toEqual(await hub.snapshot(stream))
      expect(final.statuses.at(-1)).toBe('closed')
      if (name !== 'polling') expect(final.stats.reconnects).toBeGreaterThanOrEqual(1)
    },
    30_000,
  )

  it('stops on a 401 even though a browser EventSource hides the status', async () => {
    const final = await runInPage('/secure/job-1', 'eventSourceTransport')
    expect(final.error).toEqual({ code: 'unauthorized', status: 401 })
    expect(final.stats.attempts).toBe(1)
    expect(await pageStatus()).toBe('closed')
  })

  it('stops without error on the 204 of an ended stream', async () => {
    const last = await hub.publish('ended-1', 'run.cancelled', {})
    const page204 = await page.evaluate(
      async ([url, lastEventId]) => {
        const w = window as unknown as {
          taskwire: {
            connect(
              url: string,
              options: object,
            ): { status: string; error: unknown; subscribe(fn: () => void): void }
          }
        }
        const stream = w.taskwire.connect(url, { lastEventId, onError: () => {} })
        await new Promise<void>((resolve) => {
          const check = () => stream.status === 'closed' && resolve()
          stream.subscribe(check)
          check()
        })
        return { status: stream.status, error: stream.error }
      },
      [`${server.origin}/events/ended-1`, last.id] as const,
    )
    expect(page204).toEqual({ status: 'closed', error: null })
  })
})
