import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TransportName } from '../../src/client/options.js'
import type { RunState } from '../../src/core/index.js'
import { createHub } from '../../src/server/hub.js'
import type { Hub } from '../../src/server/types.js'
import { type StreamServer, startStreamServer } from '../client/stream-server.js'
import { launchChromium } from '../helpers/chromium.js'

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
    // Built for the browser platform: a node:* import anywhere under src/client fails here.
    const bundle = (options: { external?: string[] }) =>
      build({
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
    const whole = (await bundle({})).outputFiles[0]
    if (!whole) throw new Error('esbuild wrote no client bundle')
    await writeFile(join(dir, 'client.js'), whole.contents)
    bundleBytes = whole.contents.byteLength
    ownBytes = (await bundle({ external: ['zod'] })).outputFiles[0]?.contents.byteLength ?? 0
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

  /** Starts connect() in the page; resolves when the page's stream closes. */
  function runInPage(path: string, transport: TransportName, method = 'GET'): Promise<PageResult> {
    return page.evaluate(
      ({ url, transport, method }) => {
        type Handle = {
          on(type: string, fn: (event: { id: string }) => void): void
          onStatus(fn: (status: string) => void): void
          subscribe(fn: () => void): void
          status: string
          state: unknown
          error: { code: string; status?: number } | null
          stats(): { attempts: number; reconnects: number }
        }
        const w = window as unknown as {
          taskwire: { connect(url: string, options: object): Handle }
          current?: Handle
        }
        const ids: number[] = []
        const statuses: string[] = []
        const stream = w.taskwire.connect(url, {
          transport,
          method,
          backoff: { initialMs: 20, maxMs: 200 },
          pollIntervalMs: 30,
          onError: () => {},
        })
        w.current = stream
        // Ids are <epoch>-<seq>; the sequence counts every event of the stream from 1.
        stream.on('*', (event) => ids.push(Number(event.id.slice(event.id.indexOf('-') + 1))))
        stream.onStatus((status) => statuses.push(status))
        return new Promise((resolve) => {
          const done = () => {
            if (stream.status !== 'closed') return
            const error = stream.error ? { code: stream.error.code, status: stream.error.status } : null
            resolve({ ids, state: stream.state, error, statuses, stats: stream.stats() } as never)
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
    // zod (pulled in by the catalog) dominates; the client's own code is the second number.
    // zod imported as a namespace: `import { z }` pulls in every locale and quadruples this.
    expect(bundleBytes).toBeLessThan(160_000)
    expect(ownBytes).toBeLessThan(40_000)
    console.info(`[chromium] client bundle: ${bundleBytes} bytes minified with zod, ${ownBytes} without`)
  })

  it.each([
    ['eventsource', 'events', 'GET'],
    ['fetch', 'events', 'POST'],
    ['websocket', 'ws', 'GET'],
    ['polling', 'poll', 'GET'],
  ] as const)(
    'receives a run over %s exactly once across server-side drops',
    async (transport, route, method) => {
      const stream = `browser-${transport}`
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
      if (transport !== 'polling') expect(final.stats.reconnects).toBeGreaterThanOrEqual(1)
    },
    30_000,
  )

  it('stops on a 401 even though a browser EventSource hides the status', async () => {
    const final = await runInPage('/secure/job-1', 'eventsource')
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
