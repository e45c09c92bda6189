import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ForkedScript, forkScript } from './fork-script.js'
import type { PlaygroundInfo } from './playground.js'

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url))

describe('npm start', () => {
  let playground: ForkedScript
  let origin: string

  beforeAll(async () => {
    // What `npm start` runs, with the port left to the OS.
    playground = await forkScript(MAIN, { PORT: '0', REDIS_URL: '', DATABASE_URL: '', PACE: '0' })
    origin = playground.origin
  }, 60_000)

  afterAll(() => playground.stop())

  it('prints its URL and serves the dashboard once its pages are built', async () => {
    expect(playground.output()).toContain(`taskwire playground on ${origin} (in-memory broker, PGlite)`)
    // The server answers while the pages build; the page then loads the built bundle.
    let page = ''
    for (let i = 0; i < 200 && !page.includes('dashboard.js'); i++) {
      page = await (await fetch(`${origin}/`)).text()
      if (!page.includes('dashboard.js')) {
        expect(page).toContain('Building the pages')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    expect(page).toContain('<script type="module" src="/assets/dashboard.js"></script>')
    expect(playground.output()).toMatch(/pages built in \d+ ms/)
    const script = await fetch(`${origin}/assets/dashboard.js`)
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect((await script.text()).length).toBeGreaterThan(50_000)
    const css = await fetch(`${origin}/assets/dashboard.css`)
    expect(await css.text()).toContain('.tw-dot')
    const info = (await (await fetch(`${origin}/api/playground`)).json()) as PlaygroundInfo
    expect(info).toMatchObject({
      process: 'single',
      broker: 'memory',
      database: 'pglite',
      pid: playground.child.pid,
    })
  })

  it('serves the five examples on its one port, each with its seed data', async () => {
    const status = async (path: string, init?: RequestInit): Promise<number> => {
      const response = await fetch(`${origin}${path}`, init)
      await response.body?.cancel()
      return response.status
    }
    expect(await status('/api/workflows/demo/tasks')).toBe(200)
    expect(await status('/api/jobs/00000000-0000-4000-8000-000000000001')).toBe(200)
    expect(await status('/api/agents', { headers: { authorization: 'Bearer demo-token' } })).toBe(200)
    expect(await status('/api/agents')).toBe(401)
    expect(await status('/api/v1/flows')).toBe(200)
    expect(await status('/api/workflows/demo')).toBe(200)
    expect(await status('/nothing-here')).toBe(404)

    // A workflow run from start to end, as the README's curl lines drive it.
    const started = await fetch(`${origin}/api/workflows/demo/execute`, { method: 'POST' })
    expect(started.status).toBe(202)
    const { events } = (await started.json()) as { events: string }
    const body = await (await fetch(`${origin}${events}`)).text()
    expect(body).toMatch(/^event: run\.started$/m)
    expect(body).toMatch(/^event: run\.(completed|failed)$/m)
  })

  it('stops on SIGTERM', async () => {
    expect(await playground.stop()).toBe(0)
  })
})
