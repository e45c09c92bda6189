// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ConnectOptions, RunSnapshot } from '../../src/client/index.js'
import { bindConnectionIndicator, createRunStore, type SharedRunStore } from '../../src/vanilla/index.js'
import { openPageAt, type RunApp, startRunApp } from '../react/run-app.js'

let app: RunApp
const stores: SharedRunStore[] = []
beforeEach(async () => {
  app = await startRunApp()
  openPageAt(app.origin)
})
afterEach(async () => {
  const closing = stores.splice(0)
  for (const run of closing) run.close()
  // The last close lets each connection go after the linger; the server must outlive them, or
  // a request still on its way would meet a closed port.
  await vi.waitFor(() => expect(closing.map((run) => run.status)).toEqual(closing.map(() => 'closed')))
  await app.server.whenClosed(() => true)
  await app.close()
})

const URL = '/api/runs/run-1/events'

/** A store closed after the test, so no connection outlives it. */
function store(options: ConnectOptions = {}): SharedRunStore {
  const created = createRunStore(URL, options)
  stores.push(created)
  return created
}

/** Resolves with the first value a store gives that satisfies `predicate` (at most 10 s). */
function next(
  subscribe: (listener: (value: RunSnapshot) => void) => () => void,
  predicate: (value: RunSnapshot) => boolean,
): Promise<RunSnapshot> {
  return new Promise((resolve, reject) => {
    let stop: (() => void) | undefined
    let found: RunSnapshot | undefined
    const timer = setTimeout(() => reject(new Error('no such value in 10 s')), 10_000)
    stop = subscribe((value) => {
      if (found || !predicate(value)) return
      found = value
      clearTimeout(timer)
      stop?.()
      resolve(value)
    })
    if (found) stop()
  })
}

/** Svelte's `get(store)`: subscribe, take the value given at once, unsubscribe. */
function get<T>(svelteStore: { subscribe(run: (value: T) => void): () => void }): T {
  let value: T | undefined
  let called = false
  svelteStore.subscribe((v) => {
    value = v
    called = true
  })()
  if (!called) throw new Error('subscribe did not call its listener at once: not a Svelte store')
  return value as T
}

describe('createRunStore', () => {
  it('is a Svelte store: the value at once, then every change, until unsubscribed', async () => {
    await app.hub.publish('run-1', 'task.created', { taskId: 't1', title: 'Plan' })
    const run = store()
    // Reading it the Svelte way subscribes, and so starts connecting.
    expect(get(run)).toMatchObject({ status: 'connecting', state: { tasks: [] } })

    const seen: RunSnapshot[] = []
    const stop = run.subscribe((value) => seen.push(value))
    expect(seen.map((value) => value.status)).toEqual(['connecting'])
    await next(run.subscribe, (value) => value.state.tasks.length === 1)
    await app.hub.publish('run-1', 'task.created', { taskId: 't2', title: 'Build' })
    await next(run.subscribe, (value) => value.state.tasks.length === 2)
    stop()
    const count = seen.length
    await app.hub.publish('run-1', 'task.created', { taskId: 't3', title: 'Ship' })
    await next(run.subscribe, (value) => value.state.tasks.length === 3)

    expect(seen).toHaveLength(count)
    expect(seen.at(-1)?.state.tasks.map((task) => task.id)).toEqual(['t1', 't2'])
    expect(run.getState()).toBe(get(run).state)
  })

  it('notifies status changes as well as state changes, and reads the status directly', async () => {
    const run = store()
    const statuses: string[] = []
    run.subscribe((value) => {
      if (statuses.at(-1) !== value.status) statuses.push(value.status)
    })
    await next(run.subscribe, (value) => value.status === 'open')
    expect(run.status).toBe('open')
    await app.hub.publish('run-1', 'run.completed', {})
    await next(run.subscribe, (value) => value.status === 'closed')

    expect(statuses).toEqual(['connecting', 'open', 'closed'])
    expect(run.getState().status).toBe('completed')
  })

  it('shares one connection with every store of the same URL and equal options, and close() lets it go', async () => {
    // Equal options written twice, as two components would: plain objects compare by content.
    const first = store({ headers: { authorization: 'Bearer t' }, backoff: { initialMs: 100 } })
    const second = store({ headers: { authorization: 'Bearer t' }, backoff: { initialMs: 100 } })
    const stops = [first.subscribe(() => {}), second.subscribe(() => {})]
    await next(second.subscribe, (value) => value.status === 'open')
    expect(app.streamRequests('run-1')).toHaveLength(1)
    expect(app.streamRequests('run-1')[0]?.headers.authorization).toBe('Bearer t')
    expect(first.handle).toBe(second.handle)

    for (const stop of stops) stop()
    first.close()
    second.close()
    // After the linger, the server sees the connection close; nothing reconnects.
    await app.server.whenClosed(() => true)
    expect(app.streamRequests('run-1')).toHaveLength(1)
    // The shared run's own linger closes the handle; on a loaded machine the server may see
    // the connection go (after the handle's idle linger) a moment before that.
    await vi.waitFor(() => expect(first.status).toBe('closed'), { timeout: 2_000, interval: 20 })
  })

  it('gives a store with other options its own connection', async () => {
    const first = store()
    const second = store({ headers: { authorization: 'Bearer t' } })
    first.subscribe(() => {})
    second.subscribe(() => {})
    await next(first.subscribe, (value) => value.status === 'open')
    await next(second.subscribe, (value) => value.status === 'open')
    expect(app.streamRequests('run-1')).toHaveLength(2)
  })

  it('after close(), calls a new listener once with the last value and connects nothing', async () => {
    const run = store()
    run.close()
    const seen: string[] = []
    run.subscribe((value) => seen.push(value.status))
    expect(seen).toEqual(['idle'])
    expect(app.server.requests).toHaveLength(0)
  })
})

describe('bindConnectionIndicator', () => {
  it('sets data-status and title for connected, reconnecting and closed, until unbound', async () => {
    const dot = document.createElement('span')
    // A long backoff holds the store in `reconnecting` after the drop, until reconnect().
    const run = store({ backoff: { initialMs: 60_000, maxMs: 60_000 } })
    const unbind = bindConnectionIndicator(dot, run)
    expect(dot.getAttribute('data-status')).toBe('connecting')
    await next(run.subscribe, (value) => value.status === 'open')
    expect([dot.getAttribute('data-status'), dot.title]).toEqual(['open', 'Connected'])

    app.server.dropConnections(() => true)
    await next(run.subscribe, (value) => value.status === 'reconnecting')
    expect(dot.getAttribute('data-status')).toBe('reconnecting')
    expect(dot.title).toMatch(/^Reconnecting…/)

    run.handle.reconnect()
    await next(run.subscribe, (value) => value.status === 'open')
    expect(dot.getAttribute('data-status')).toBe('open')
    await app.hub.publish('run-1', 'run.completed', {})
    await next(run.subscribe, (value) => value.status === 'closed')
    expect([dot.getAttribute('data-status'), dot.title]).toEqual(['closed', 'Disconnected'])

    unbind()
    dot.setAttribute('data-status', 'mine')
    run.close()
    expect(dot.getAttribute('data-status')).toBe('mine')
  })

  it('takes other titles per status', () => {
    const dot = document.createElement('span')
    const run = store()
    const unbind = bindConnectionIndicator(dot, run, { connecting: 'Verbinden…' })
    expect([dot.getAttribute('data-status'), dot.title]).toEqual(['connecting', 'Verbinden…'])
    unbind()
  })
})
