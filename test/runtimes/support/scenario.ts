import { expect } from 'vitest'
import { HEARTBEAT_MS, RETRY_MS } from '../fixtures/timing.js'
import type { ClientLine, ClientRun } from './client-process.js'

/** An event as the control route answers a publish. */
interface Published {
  readonly id: string
  readonly type: string
  readonly stream: string
}

/** Starts `connect()` on a URL in some runtime. */
export type Launch = (url: string, options?: Record<string, unknown>) => ClientRun

/**
 * Publishes through the fixture's control route.
 *
 * @param base - the fixture's routes' prefix (`http://127.0.0.1:port`, or `.../api` for Next)
 * @param stream - the stream
 * @param type - the event type
 * @param data - the payload
 * @returns the stored envelope
 */
export async function publish(base: string, stream: string, type: string, data: unknown): Promise<Published> {
  const response = await fetch(`${base}/control/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stream, type, data }),
  })
  expect(response.status, await response.clone().text()).toBe(200)
  return (await response.json()) as Published
}

/**
 * Reads a control route that answers JSON.
 *
 * @param base - the routes' prefix
 * @param action - `cut`, `seen` or `stats`
 * @param stream - the stream, for `cut` and `seen`
 * @returns the answer
 */
export async function controlRoute(
  base: string,
  action: 'cut' | 'seen' | 'stats',
  stream = '',
): Promise<unknown> {
  const response = await fetch(`${base}/control/${action}?stream=${encodeURIComponent(stream)}`, {
    method: action === 'cut' ? 'POST' : 'GET',
  })
  expect(response.status).toBe(200)
  return response.json()
}

const idsOf = (run: ClientRun): { id: string; type: string }[] =>
  run.events().map(({ id, type }) => ({ id, type }))

const has = (kind: ClientLine['kind']) => (lines: readonly ClientLine[]) =>
  lines.some((line) => line.kind === kind)

/**
 * What a viewer of a live stream sees, through `connect()` in some runtime:
 * 1. two events published before it connects are replayed, in order, with their ids;
 * 2. each live event reaches it before the next is published (one by one, not buffered);
 * 3. the server cuts the connection; two events published while it is away arrive after it
 *    reconnects with `Last-Event-ID` set to the last id it had (a `replayed` resync of 2);
 * 4. a silence of several heartbeat periods, with a watchdog of three, passes without a
 *    reconnect: the heartbeats reach the client;
 * 5. the terminal event closes the handle without an error, and a reconnect with its id is
 *    answered 204;
 * 6. the server holds no connection afterwards.
 *
 * @param base - the fixture's routes' prefix
 * @param launch - starts the client
 * @param stream - a stream name unique to the run
 */
export async function followScenario(base: string, launch: Launch, stream: string): Promise<void> {
  const url = `${base}/events/${stream}`
  const published: Published[] = []
  published.push(await publish(base, stream, 'run.started', {}))
  published.push(await publish(base, stream, 'task.created', { taskId: 't1', title: 'Crème brûlée ✓' }))

  const client = launch(url, { heartbeatTimeoutMs: 3 * HEARTBEAT_MS, backoff: { initialMs: 200 } })
  try {
    await client.waitFor((lines) => has('resync')(lines), 'the replayed events')
    expect(idsOf(client)).toEqual(published.map(({ id, type }) => ({ id, type })))

    for (const percent of [30, 60]) {
      const event = await publish(base, stream, 'task.progress', { taskId: 't1', percent })
      published.push(event)
      await client.waitFor(
        () => client.events().some((seen) => seen.id === event.id),
        `live event ${percent}%`,
      )
    }

    expect(await controlRoute(base, 'cut', stream)).toEqual({ cut: 1 })
    published.push(await publish(base, stream, 'task.progress', { taskId: 't1', percent: 90 }))
    published.push(await publish(base, stream, 'task.status', { taskId: 't1', status: 'completed' }))
    await client.waitFor(() => client.events().length >= published.length, 'the events missed during the cut')
    expect(await controlRoute(base, 'seen', stream)).toEqual([null, published[3]?.id])

    await new Promise((resolve) => setTimeout(resolve, 8 * HEARTBEAT_MS))
    const terminal = await publish(base, stream, 'run.completed', {})
    published.push(terminal)
    await client.waitFor(has('closed'), 'the handle to close after run.completed')

    expect(idsOf(client)).toEqual(published.map(({ id, type }) => ({ id, type })))
    expect(client.lines.filter((line) => line.kind === 'resync')).toEqual([
      { kind: 'resync', resync: { kind: 'fresh' } },
      { kind: 'resync', resync: { kind: 'replayed', events: 2 } },
    ])
    expect(client.lines.find((line) => line.kind === 'closed')).toEqual({
      kind: 'closed',
      error: null,
      stats: { attempts: 2, reconnects: 1, duplicates: 0, invalid: 0 },
    })
    expect(client.lines.filter((line) => line.kind === 'error')).toEqual([])

    const ended = await fetch(url, { headers: { 'last-event-id': terminal.id } })
    expect(ended.status).toBe(204)
    expect(await ended.text()).toBe('')
    await expectNoConnections(base)
  } finally {
    await client.stop()
  }
}

/**
 * A run started by a POST (`startExecution` behind the fixture's `/runs`), read by
 * `connect()` with `method: 'POST'`: its events arrive one by one as the run emits them (each
 * before the next one exists), the handle closes after `run.completed`, a late viewer gets
 * the whole run replayed, and a reconnect at the terminal id gets 204.
 *
 * @param base - the fixture's routes' prefix
 * @param launch - starts the client
 */
export async function runScenario(base: string, launch: Launch): Promise<void> {
  const steps = 3
  const client = launch(`${base}/runs?steps=${steps}&stepMs=400`, {
    method: 'POST',
    headers: { 'idempotency-key': `run-${Date.now()}-${Math.random()}` },
  })
  try {
    await client.waitFor(has('closed'), 'the run to end', 20_000)
    const events = client.events()
    expect(events.map((event) => event.type)).toEqual([
      'run.started',
      ...Array.from({ length: steps }, () => 'task.progress'),
      'run.completed',
    ])
    // Each event was in the client's hands before the run emitted the next one.
    for (let i = 1; i < events.length; i++) {
      expect(
        events[i - 1]?.at,
        `${events[i - 1]?.type} arrived before ${events[i]?.type} was emitted`,
      ).toBeLessThan(Date.parse(events[i]?.ts ?? ''))
    }
    expect(client.lines.find((line) => line.kind === 'closed')).toMatchObject({ error: null })

    const stream = events[0]?.stream ?? ''
    const late = await readWholeStream(`${base}/events/${encodeURIComponent(stream)}`)
    expect(late).toEqual(events.map((event) => event.id))
    const ended = await fetch(`${base}/events/${encodeURIComponent(stream)}`, {
      headers: { 'last-event-id': events.at(-1)?.id ?? '' },
    })
    expect(ended.status).toBe(204)
    await expectNoConnections(base)
  } finally {
    await client.stop()
  }
}

/**
 * The bytes a plain `fetch` reads from an idle stream: the SSE headers, `retry:` first, then
 * `: hb` comments every heartbeat period.
 *
 * @param base - the fixture's routes' prefix
 * @param stream - a stream name unique to the run
 */
export async function heartbeatScenario(base: string, stream: string): Promise<void> {
  const controller = new AbortController()
  const response = await fetch(`${base}/events/${stream}`, { signal: controller.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const started = Date.now()
  while (text.split(': hb\n\n').length < 4 && Date.now() - started < 10 * HEARTBEAT_MS) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  const elapsed = Date.now() - started
  controller.abort()
  expect(text).toBe(`retry: ${RETRY_MS}\n\n${': hb\n\n'.repeat(3)}`)
  // Three heartbeats took about three periods: they were written as they came, not held.
  expect(elapsed).toBeGreaterThanOrEqual(2 * HEARTBEAT_MS)
  await expectNoConnections(base)
}

/**
 * Reads a stream that has ended to its end.
 *
 * @param url - the stream's URL
 * @returns the ids of its frames
 */
export async function readWholeStream(url: string): Promise<string[]> {
  const response = await fetch(url)
  expect(response.status).toBe(200)
  const text = await response.text()
  return [...text.matchAll(/^id: (.*)$/gm)].map((match) => match[1] ?? '')
}

/** Waits (at most 5 s) until the fixture's hub holds no connection. */
export async function expectNoConnections(base: string): Promise<void> {
  let stats: unknown
  for (let i = 0; i < 100; i++) {
    stats = await controlRoute(base, 'stats')
    if ((stats as { connections: number }).connections === 0) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  expect(stats).toMatchObject({ connections: 0 })
}
