import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHub } from '../../src/server/hub.js'
import { serveNode } from '../../src/server/serve-node.js'
import type { Hub } from '../../src/server/types.js'
import { bundleClientForBrowser, launchChromium } from '../helpers/chromium.js'

const STREAM = 'tabs-1'
const PAGE =
  '<!doctype html><meta charset="utf-8"><script type="module">import * as taskwire from "/client.js"; window.taskwire = taskwire; window.ready = true</script>'

/** What a page exposes to the test. */
interface TabWindow {
  taskwire: {
    connect(
      url: string,
      options: object,
    ): {
      status: string
      lastEventId: string | null
      on(type: string, fn: (event: { id: string }) => void): () => void
      onStatus(fn: (status: string) => void): () => void
    }
    shareTabs(): unknown
  }
  ready?: boolean
  stream?: { status: string; lastEventId: string | null }
  ids: string[]
  statuses: string[]
  fetches: number
}

describe('shareTabs in Chromium: tabs of one origin', () => {
  let hub: Hub
  let server: Server
  let origin: string
  let browser: Browser
  let context: BrowserContext
  // Server-side count of stream requests: open now, and opened in all.
  let open = 0
  let opened = 0

  beforeAll(async () => {
    const client = await bundleClientForBrowser()
    hub = createHub({ heartbeatMs: 200, retryMs: 50 })
    // The page, the bundle and the stream on one origin, so the tabs share its locks and channels.
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (path === `/events/${STREAM}`) {
        open++
        opened++
        res.once('close', () => open--)
        void serveNode(hub, req, res, { stream: STREAM, onError: () => {} })
      } else if (path === '/page.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE)
      } else if (path === '/client.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(client)
      } else {
        res.writeHead(404).end()
      }
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await launchChromium()
    context = await browser.newContext()
  })

  afterAll(async () => {
    await context?.close()
    await browser?.close()
    server?.closeAllConnections()
    server?.close()
    await hub?.close()
  })

  /** Opens a tab and connects it through shareTabs, counting the stream requests it makes. */
  async function openTab(): Promise<Page> {
    const page = await context.newPage()
    await page.goto(`${origin}/page.html`)
    await page.waitForFunction(() => (window as unknown as TabWindow).ready === true)
    await page.evaluate((url) => {
      const w = window as unknown as TabWindow
      w.ids = []
      w.statuses = []
      w.fetches = 0
      const stream = w.taskwire.connect(url, {
        transport: w.taskwire.shareTabs(),
        fetch: (input: RequestInfo, init?: RequestInit) => {
          w.fetches++
          return fetch(input, init)
        },
        backoff: { initialMs: 20, maxMs: 200 },
        onError: () => {},
      })
      stream.onStatus((status) => w.statuses.push(status))
      stream.on('*', (event) => w.ids.push(event.id))
      w.stream = stream
    }, `${origin}/events/${STREAM}`)
    await page.waitForFunction(() => (window as unknown as TabWindow).stream?.status === 'open', undefined, {
      timeout: 10_000,
    })
    return page
  }

  const reached = (page: Page, id: string) =>
    page.waitForFunction((last) => (window as unknown as TabWindow).stream?.lastEventId === last, id, {
      timeout: 10_000,
    })
  const tab = (page: Page) =>
    page.evaluate(() => {
      const w = window as unknown as TabWindow
      return { ids: w.ids, statuses: w.statuses, fetches: w.fetches }
    })
  const publish = async (count: number) => {
    let id = ''
    for (let i = 0; i < count; i++)
      id = (await hub.publish(STREAM, 'task.progress', { taskId: 't1', percent: i })).id
    return id
  }
  /** Waits, in 20 ms steps up to 10 s, for a condition the server shows. */
  const serverShows = async (condition: () => boolean, what: string) => {
    for (let waited = 0; !condition(); waited += 20) {
      if (waited >= 10_000) throw new Error(`not reached in 10 s: ${what} (open ${open}, opened ${opened})`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  it('holds one connection for three tabs, and keeps the others updating exactly once when the leader closes', async () => {
    const pages = [await openTab(), await openTab(), await openTab()]
    await serverShows(() => open === 1, 'one stream connection')
    expect(opened).toBe(1)
    expect(hub.stats().connections).toBe(1)

    const first = await publish(20)
    await Promise.all(pages.map((page) => reached(page, first)))
    const tabs = await Promise.all(pages.map(tab))
    expect(tabs.map((t) => t.fetches).sort()).toEqual([0, 0, 1])
    const log = async () => (await hub.read(STREAM, null)).events.map((event) => event.id)
    for (const t of tabs) expect(t.ids).toEqual(await log())

    const leader = pages[tabs.findIndex((t) => t.fetches === 1)] as Page
    const others = pages.filter((page) => page !== leader)
    await leader.close()
    // Published while the leader's tab goes away: the next leader's resume must bring them.
    await publish(10)
    await serverShows(() => opened === 2 && open === 1, 'a second tab took over the one connection')
    const last = await publish(10)
    await Promise.all(others.map((page) => reached(page, last)))

    const expected = await log()
    expect(expected).toHaveLength(40)
    const after = await Promise.all(others.map(tab))
    for (const t of after) {
      expect(t.ids).toEqual(expected)
      // The next leader connects within its attempt: no tab went through a backoff.
      expect(t.statuses).toEqual(['connecting', 'open'])
    }
    expect(after.map((t) => t.fetches).sort()).toEqual([0, 1])
    expect(open).toBe(1)
    expect(hub.stats().connections).toBe(1)
    for (const page of others) await page.close()
    await serverShows(() => open === 0, 'no connection once every tab closed')
  })
})
