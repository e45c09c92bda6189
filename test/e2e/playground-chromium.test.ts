import { copyFileSync, mkdirSync } from 'node:fs'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Playground, startPlayground } from '../../examples/playground/playground.js'
import { launchChromium } from '../helpers/chromium.js'
import { SseReader } from '../helpers/sse-reader.js'

/** Where the suite leaves its screenshot (ignored by git). */
const OUTPUT = join(import.meta.dirname, '../../test-output')
/** Set to refresh the README's screenshot, docs/playground.png, from this run. */
const UPDATE_DOCS_SCREENSHOT = process.env.UPDATE_DOCS_SCREENSHOT === '1'
/** Bounds every wait in the page: a run of the demo workflow takes a few seconds at this pace. */
const WAIT_MS = 30_000

/** What the page records as it changes, read back by the test. */
interface Recorded {
  /** Each node's statuses in the order the page showed them. */
  nodes: Record<string, string[]>
  /** The connection dot's statuses, in order. */
  dot: string[]
}

/**
 * Records, inside the page, every `data-status` the workflow builder's nodes and connection
 * dot take, with a MutationObserver: a status shown for a single frame is caught too.
 */
function recordStatuses(): void {
  const win = window as unknown as { recorded: Recorded }
  win.recorded = { nodes: {}, dot: [] }
  const panel = document.querySelector('[data-testid="workflow-builder"]')
  if (!panel) throw new Error('no workflow builder panel')
  const note = (element: Element): void => {
    const status = element.getAttribute('data-status')
    if (status === null) return
    const node = element.getAttribute('data-node-id')
    if (node !== null) win.recorded.nodes[node] ??= []
    const list =
      node !== null ? win.recorded.nodes[node] : element.matches('.tw-status') ? win.recorded.dot : undefined
    if (list && list.at(-1) !== status) list.push(status)
  }
  for (const element of panel.querySelectorAll('[data-status]')) note(element)
  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      if (mutation.type === 'attributes' && mutation.target instanceof Element) note(mutation.target)
      for (const added of mutation.addedNodes)
        if (added instanceof Element)
          for (const element of added.querySelectorAll('[data-status]')) note(element)
    }
  }).observe(panel, { attributes: true, attributeFilter: ['data-status'], childList: true, subtree: true })
}

describe('the playground dashboard in Chromium', () => {
  let playground: Playground
  let browser: Browser
  let page: Page
  const sockets = new Set<Socket>()

  beforeAll(async () => {
    ;[playground, browser] = await Promise.all([startPlayground({ port: 0, pace: 1.5 }), launchChromium()])
    playground.server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
    await playground.pages
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  })

  afterAll(async () => {
    await browser?.close()
    await playground?.close()
  })

  it.each([
    ['WebSocket', 'WebSocket'],
    ['SSE', 'SSE'],
  ])(
    'shows a workflow run node by node over %s, and resumes it without a gap after the server cuts the connection',
    async (_, channel) => {
      await page.goto(`${playground.origin}/?failureRate=0`)
      const panel = page.locator('[data-testid="workflow-builder"]')
      await panel.getByLabel(channel, { exact: true }).check()
      await panel.locator('[data-node-id]').first().waitFor({ timeout: WAIT_MS })
      const nodeIds = await panel
        .locator('[data-node-id]')
        .evaluateAll((elements) => elements.map((element) => element.getAttribute('data-node-id') ?? ''))
      expect(nodeIds.length).toBeGreaterThanOrEqual(4)
      await page.evaluate(recordStatuses)

      await panel.getByRole('button', { name: /execute/i }).click()
      // Mid-run: one node done, the run not over.
      await panel.locator('[data-node-id][data-status="completed"]').first().waitFor({ timeout: WAIT_MS })
      expect(await panel.locator('[data-node-id][data-status="pending"]').count()).toBeGreaterThan(0)

      // The server side of every connection goes away at once, as when a proxy drops them.
      const cut = sockets.size
      for (const socket of sockets) socket.destroy()
      expect(cut).toBeGreaterThan(0)

      await page.waitForFunction(
        () => {
          const { recorded } = window as unknown as { recorded: Recorded }
          const red = recorded.dot.indexOf('reconnecting')
          return red >= 0 && recorded.dot.indexOf('open', red) > red
        },
        undefined,
        { timeout: WAIT_MS },
      )
      await page.waitForFunction(
        (count) =>
          document.querySelectorAll(
            '[data-testid="workflow-builder"] [data-node-id][data-status="completed"]',
          ).length === count,
        nodeIds.length,
        { timeout: WAIT_MS },
      )

      const recorded = (await page.evaluate(
        () => (window as unknown as { recorded: Recorded }).recorded,
      )) as Recorded
      // Every node went forward only: pending, running, completed (a node that ran while the
      // stream was cut may show its end at once, from the replay).
      for (const id of nodeIds) {
        const seen = recorded.nodes[id] ?? []
        expect(seen.at(-1), id).toBe('completed')
        expect(
          ['pending', 'running', 'completed'].filter((status) => seen.includes(status)),
          id,
        ).toEqual(seen)
      }
      // Most nodes were seen running: the page shows progress, not just results.
      const seenRunning = nodeIds.filter((id) => recorded.nodes[id]?.includes('running'))
      expect(seenRunning.length, JSON.stringify(recorded)).toBeGreaterThanOrEqual(nodeIds.length - 2)

      // No update missing: the page's last event is the log's last event, and its count is the log's.
      const executionId = await panel.getAttribute('data-execution-id')
      expect(executionId).toBeTruthy()
      const log = await fetch(`${playground.origin}/api/workflows/executions/${executionId}/events`)
      const reader = new SseReader(log.body as ReadableStream<Uint8Array>)
      const ids = (await reader.toEnd()).events
        .filter((event) => !event.event?.startsWith('stream.'))
        .map((event) => event.id)
      await expect.poll(() => panel.getAttribute('data-last-event-id'), { timeout: WAIT_MS }).toBe(ids.at(-1))
      expect(await panel.getAttribute('data-event-count')).toBe(String(ids.length))

      mkdirSync(OUTPUT, { recursive: true })
      await page.screenshot({ path: join(OUTPUT, `playground-${channel}.png`), fullPage: true })
    },
  )

  it('runs all five examples side by side from the dashboard', async () => {
    await page.goto(`${playground.origin}/?failureRate=0`)
    const builder = page.locator('[data-testid="workflow-builder"]')
    const agents = page.locator('[data-testid="agent-execute"]')
    const flow = page.locator('[data-testid="flow-executor"]')
    const tasks = page.locator('[data-testid="workflow-tasks"]')
    const job = page.locator('[data-testid="job-task-events"]')
    // The two live lists are open as soon as the page is.
    await tasks.locator('.tw-status[data-status="open"]').waitFor({ timeout: WAIT_MS })
    await job.locator('.tw-status[data-status="open"]').waitFor({ timeout: WAIT_MS })
    await builder.locator('[data-node-id]').first().waitFor({ timeout: WAIT_MS })

    await builder.getByRole('button', { name: 'Execute' }).click()
    await agents.getByLabel('parallel').check()
    await agents.getByRole('button', { name: 'Execute' }).click()
    await flow.getByRole('button', { name: 'Run' }).click()
    await job.getByRole('button', { name: 'Run a new job' }).click()
    await tasks.getByLabel('Task title').fill('Write the release notes')
    await tasks.getByRole('button', { name: 'Add task' }).click()

    // Everything moves at once: a running node, agent, flow node and job task on one screen.
    await builder.locator('[data-node-id][data-status="running"]').first().waitFor({ timeout: WAIT_MS })
    await agents.locator('[data-role][data-status="running"]').first().waitFor({ timeout: WAIT_MS })
    await job.locator('[data-task-id][data-status="in_progress"]').first().waitFor({ timeout: WAIT_MS })
    // The new task is on top of the list, with its toast.
    await expect
      .poll(() => tasks.locator('[data-task-id]').first().textContent())
      .toContain('Write the release notes')
    await tasks.getByRole('status').first().waitFor({ timeout: WAIT_MS })
    mkdirSync(OUTPUT, { recursive: true })
    const running = join(OUTPUT, 'playground-running.png')
    await page.screenshot({ path: running, fullPage: true })
    if (UPDATE_DOCS_SCREENSHOT) copyFileSync(running, join(import.meta.dirname, '../../docs/playground.png'))

    // And each reaches its end.
    const all = async (locator: ReturnType<Page['locator']>, status: string): Promise<boolean> => {
      const statuses = await locator.evaluateAll((elements) =>
        elements.map((element) => element.getAttribute('data-status')),
      )
      return statuses.length > 0 && statuses.every((value) => value === status)
    }
    await expect
      .poll(() => all(builder.locator('[data-node-id]'), 'completed'), { timeout: WAIT_MS })
      .toBe(true)
    await expect.poll(() => all(agents.locator('[data-role]'), 'completed'), { timeout: WAIT_MS }).toBe(true)
    await expect.poll(() => all(flow.locator('[data-node]'), 'success'), { timeout: WAIT_MS }).toBe(true)
    await expect.poll(() => all(job.locator('[data-task-id]'), 'completed'), { timeout: WAIT_MS }).toBe(true)
    await expect
      .poll(() => job.locator('[data-testid="job-status"]').getAttribute('data-status'), { timeout: WAIT_MS })
      .toBe('completed')
    await page.screenshot({ path: join(OUTPUT, 'playground-done.png'), fullPage: true })
  })
})
