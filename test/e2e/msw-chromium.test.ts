import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { SetupWorker } from 'msw/browser'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type * as client from '../../src/client/index.js'
import type * as msw from '../../src/msw/index.js'
import { launchChromium } from '../helpers/chromium.js'

/** What the page exposes as `window.kit`: the client, the msw kit and a started worker. */
type Kit = typeof client & typeof msw & { worker: SetupWorker }

/** What a scenario reports back from the page. */
interface Outcome {
  ids: string[]
  statuses: string[]
  resyncs: string[]
  errors: { code: string; status?: number }[]
  invalid: string[]
  lastEventIds: (string | null)[]
  connections: { status: number | null; end: string | null; search: string; auth: string | null }[]
  bodies: unknown[]
}

/**
 * The page: the client and the kit bundled with msw's `setupWorker` for the browser platform
 * (a `node:*` import anywhere in them fails the build), and the worker script msw ships.
 */
const PAGE = '<!doctype html><meta charset="utf-8"><script type="module" src="/kit.js"></script>'

describe('taskwire/msw in Chromium, through msw service worker', () => {
  let server: Server
  let origin: string
  let browser: Browser
  let page: Page
  const unhandled: string[] = []

  beforeAll(async () => {
    const bundle = await build({
      stdin: {
        contents: [
          "import { setupWorker } from 'msw/browser'",
          "import * as client from './src/client/index.ts'",
          "import * as kit from './src/msw/index.ts'",
          'const worker = setupWorker()',
          // Not quiet: msw then copies each response to log it, which must not keep a stream
          // alive after its client cancels it.
          "await worker.start({ serviceWorker: { url: '/mockServiceWorker.js' }, onUnhandledRequest: 'error' })",
          'window.kit = { ...client, ...kit, worker }',
          'window.ready = true',
        ].join('\n'),
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    })
    const script = bundle.outputFiles[0]?.contents
    if (!script) throw new Error('esbuild wrote no page bundle')
    const workerScript = await readFile(join(process.cwd(), 'node_modules/msw/lib/mockServiceWorker.js'))
    const files: Record<string, [string, Uint8Array | string]> = {
      '/page.html': ['text/html; charset=utf-8', PAGE],
      '/kit.js': ['text/javascript', script],
      '/mockServiceWorker.js': ['text/javascript', workerScript],
    }
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
      if (path === '/favicon.ico') {
        res.writeHead(204).end()
        return
      }
      const file = files[path]
      if (!file) {
        // A stream request msw did not answer would land here: the test names it.
        unhandled.push(`${req.method} ${req.url}`)
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1])
    })
    // 127.0.0.1 is a secure context, where a page may register a service worker.
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await launchChromium()
    page = await browser.newPage()
    await page.goto(`${origin}/page.html`)
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true)
  })

  afterEach(async () => {
    await page?.evaluate(() => (window as unknown as { kit: Kit }).kit.worker.resetHandlers())
    expect(unhandled.splice(0)).toEqual([])
  })

  afterAll(async () => {
    await browser?.close()
    await new Promise((resolve) => server?.close(resolve))
  })

  /**
   * Runs a scenario in the page: it installs `handler` (built in the page from the kit), opens
   * the stream with `options` until it closes, and reports what the client and the handler saw.
   */
  function scenario(name: string, extra: Record<string, unknown> = {}): Promise<Outcome> {
    return page.evaluate(
      async ({ name, extra }) => {
        const kit = (window as unknown as { kit: Kit }).kit
        const url = `${location.origin}/api/jobs/job-7/events`
        const path = '/api/jobs/:id/events'
        const RUN = [
          { type: 'run.started', data: {} },
          { type: 'task.created', data: { taskId: 't1', title: 'Plan' } },
          { type: 'task.progress', data: { taskId: 't1', percent: 40, note: 'héllo 🚀' } },
          { type: 'agent.completed', data: { role: 'planner', durationMs: 1200 } },
          { type: 'task.completed', data: { taskId: 't1' } },
          { type: 'run.completed', data: {} },
        ] as const
        const bodies: unknown[] = []
        const scripts: Record<string, () => msw.SseHandler> = {
          resume: () => kit.sseHandler('GET', path, kit.replayFrom([...RUN], { dropAfter: 2 })),
          storm: () => {
            const replay = kit.reconnectStorm([...RUN], { dropAfter: 1 })
            return kit.sseHandler('POST', path, (info, stream) => {
              bodies.push(info.body)
              return replay(info, stream)
            })
          },
          dropAfterFrames: () =>
            kit.sseHandler('GET', path, async (info, stream) => {
              if (info.attempt === 1) {
                for (const event of RUN.slice(0, 3)) await stream.send(event.type, event.data)
                return stream.drop()
              }
              // No replay: only what the client did not get before the drop.
              for (const event of RUN.slice(3)) await stream.send(event.type, event.data)
            }),
          token: () => kit.sseHandler('GET', path, kit.tokenExpiry([...RUN], { expiresAfter: 3 })),
          statuses: () =>
            kit.sseHandler('GET', path, async (info, stream) => {
              if (info.attempt === 1) return stream.respond(503, { headers: { 'retry-after': '1' } })
              if (info.attempt === 2) return stream.respond(204)
            }),
          unauthorized: () => kit.sseHandler('GET', path, (_info, stream) => stream.respond(401)),
          malformed: () =>
            kit.sseHandler('GET', path, async (_info, stream) => {
              await stream.send('run.started', {})
              await stream.raw('data: {not json\n\n')
              await stream.send('run.completed', {})
            }),
          reset: () =>
            kit.sseHandler(
              'GET',
              path,
              kit.gapOnReconnect([...RUN], { dropAfter: 2, missing: 2, mode: 'reset' }),
            ),
          drip: () =>
            kit.sseHandler(
              'GET',
              path,
              kit.slowDrip(kit.replayFrom([...RUN]), { chunkBytes: 7, intervalMs: 0 }),
            ),
        }
        const make = scripts[name]
        if (!make) throw new Error(`no scenario ${name}`)
        const handler = make()
        kit.worker.use(handler)
        const ids: string[] = []
        const statuses: string[] = []
        const resyncs: string[] = []
        const errors: { code: string; status?: number }[] = []
        const invalid: string[] = []
        let calls = 0
        const tokens = ['a', 'a', 'b']
        const transport = extra.transport === 'eventsource' ? kit.eventSourceTransport : kit.fetchTransport
        const stream = kit.connect(url, {
          transport,
          ...(extra.post ? { method: 'POST', body: JSON.stringify({ goal: 'ship' }) } : {}),
          ...(extra.post ? { headers: { 'content-type': 'application/json' } } : {}),
          ...(extra.token
            ? {
                retryOn401: true,
                headers: () => ({ authorization: `Bearer ${tokens[Math.min(calls++, tokens.length - 1)]}` }),
              }
            : {}),
          backoff: { initialMs: 10 },
          random: () => 0,
          onError: (error) => {
            const e = error as { code: string; status?: number }
            errors.push(e.status === undefined ? { code: e.code } : { code: e.code, status: e.status })
          },
          onInvalid: (error) => invalid.push(error.code),
        })
        const closed = new Promise<void>((resolve) =>
          stream.onStatus((status) => {
            statuses.push(status)
            if (status === 'closed') resolve()
          }),
        )
        stream.on('*', (event) => ids.push(event.id))
        stream.onResync((resync) => resyncs.push(resync.kind))
        await closed
        return {
          ids,
          statuses,
          resyncs,
          errors,
          invalid,
          lastEventIds: handler.lastEventIds(),
          connections: handler.connections.map((connection) => ({
            status: connection.status,
            end: connection.end,
            search: new URL(connection.request.url).search,
            auth: connection.request.headers.get('authorization'),
          })),
          bodies,
        }
      },
      { name, extra },
    )
  }

  const ALL = ['1-1', '1-2', '1-3', '1-4', '1-5', '1-6']

  it('serves a GET stream over fetch that drops, and the client resumes after Last-Event-ID', async () => {
    const outcome = await scenario('resume')
    expect(outcome.ids).toEqual(ALL)
    expect(outcome.lastEventIds).toEqual([null, '1-2', '1-4'])
    expect(outcome.errors).toEqual([])
    expect(outcome.connections.map((connection) => connection.end).slice(0, 2)).toEqual([
      'dropped',
      'dropped',
    ])
  })

  it('serves the same stream to the native EventSource, the cursor in ?lastEventId=', async () => {
    const outcome = await scenario('resume', { transport: 'eventsource' })
    expect(outcome.ids).toEqual(ALL)
    expect(outcome.lastEventIds).toEqual([null, '1-2', '1-4'])
    expect(outcome.connections.map((connection) => connection.search)).toEqual([
      '?framing=data-only',
      '?framing=data-only&lastEventId=1-2',
      '?framing=data-only&lastEventId=1-4',
    ])
    expect(outcome.errors).toEqual([])
  })

  it.each(['fetch', 'eventsource'])(
    'delivers every frame sent before a drop to the client (%s)',
    async (transport) => {
      const outcome = await scenario('dropAfterFrames', { transport })
      expect(outcome.lastEventIds).toEqual([null, '1-3'])
      expect(outcome.ids).toEqual(ALL)
    },
  )

  it('serves a POST stream with its body through a reconnect storm', async () => {
    const outcome = await scenario('storm', { post: true })
    expect(outcome.ids).toEqual(ALL)
    expect(outcome.connections).toHaveLength(6)
    expect(outcome.bodies).toEqual(Array.from({ length: 6 }, () => ({ goal: 'ship' })))
  })

  it('refreshes an expired token after a 401', async () => {
    const outcome = await scenario('token', { token: true })
    expect(outcome.ids).toEqual(ALL)
    expect(outcome.connections.map((connection) => [connection.auth, connection.status])).toEqual([
      ['Bearer a', 200],
      ['Bearer a', 401],
      ['Bearer b', 200],
    ])
    expect(outcome.errors).toEqual([])
  })

  it('retries a 503 and stops on a 204', async () => {
    const outcome = await scenario('statuses')
    expect(outcome.connections.map((connection) => connection.status)).toEqual([503, 204])
    expect(outcome.statuses).toEqual(['connecting', 'reconnecting', 'closed'])
    expect(outcome.errors).toEqual([])
  })

  it.each(['fetch', 'eventsource'])('stops for good on a 401 it may not retry (%s)', async (transport) => {
    const outcome = await scenario('unauthorized', { transport })
    expect(outcome.errors).toEqual([{ code: 'unauthorized', status: 401 }])
  })

  it('reports a malformed frame and keeps the stream', async () => {
    const outcome = await scenario('malformed')
    expect(outcome.ids).toEqual(['1-1', '1-2'])
    expect(outcome.invalid).toEqual(['invalid-frame'])
  })

  it('resets the client when its reconnection lost events', async () => {
    const outcome = await scenario('reset')
    expect(outcome.ids).toEqual(['1-1', '1-2', '1-4', '1-5', '1-6'])
    expect(outcome.lastEventIds).toEqual([null, '1-2'])
  })

  it('decodes a stream that drips in pieces that split characters', async () => {
    const outcome = await scenario('drip')
    expect(outcome.ids).toEqual(ALL)
  })

  it('ends the script when the client closes, through the worker', async () => {
    const ended = await page.evaluate(async () => {
      const kit = (window as unknown as { kit: Kit }).kit
      let signal: AbortSignal | undefined
      const handler = kit.sseHandler('GET', '/live', async (_info, stream) => {
        signal = stream.signal
        await stream.send('run.started', {})
        await stream.wait(60_000)
      })
      kit.worker.use(handler)
      const stream = kit.connect(`${location.origin}/live`, { onError: () => {} })
      await new Promise<void>((resolve) => stream.on('run.started', () => resolve()))
      stream.close()
      for (let i = 0; i < 200 && !signal?.aborted; i++) await new Promise((r) => setTimeout(r, 10))
      return { aborted: signal?.aborted ?? false, end: handler.connections[0]?.end }
    })
    expect(ended).toEqual({ aborted: true, end: 'client-closed' })
  })
})
