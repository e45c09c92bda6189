import { EventSource } from 'eventsource'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  type BroadcastChannelConstructor,
  type ConnectOptions,
  connect,
  eventSourceTransport,
  fetchTransport,
  type LockManagerLike,
  type ShareTabsOptions,
  type StreamHandle,
  shareTabs,
  type Transport,
} from '../../../src/client/index.js'
import type { DefaultCatalog } from '../../../src/core/index.js'
import { createHub } from '../../../src/server/hub.js'
import type { Hub } from '../../../src/server/types.js'
import { type StreamServer, startStreamServer } from '../stream-server.js'
import { until } from '../until.js'

/**
 * Web Locks for the tabs of one origin, in one process: exclusive locks granted in request
 * order, each in a task of its own as browsers do.
 */
function createLocks() {
  const queues = new Map<string, (() => void)[]>()
  const held = new Set<string>()
  const pump = (name: string): void => {
    if (held.has(name)) return
    const next = queues.get(name)?.shift()
    if (next) {
      held.add(name)
      setTimeout(next, 0)
    }
  }
  const manager: LockManagerLike = {
    request(name, options, callback) {
      return new Promise((resolve, reject) => {
        const signal = options.signal
        if (signal?.aborted) return reject(new DOMException('withdrawn', 'AbortError'))
        const grant = (): void => {
          signal?.removeEventListener('abort', withdraw)
          callback({ name })
            .then(resolve, reject)
            .finally(() => {
              held.delete(name)
              pump(name)
            })
        }
        const withdraw = (): void => {
          const queue = queues.get(name) ?? []
          const at = queue.indexOf(grant)
          if (at >= 0) queue.splice(at, 1)
          reject(new DOMException('withdrawn', 'AbortError'))
        }
        signal?.addEventListener('abort', withdraw, { once: true })
        queues.set(name, [...(queues.get(name) ?? []), grant])
        pump(name)
      })
    },
  }
  return {
    manager,
    /** Locks held plus requests waiting. */
    count: () => held.size + [...queues.values()].reduce((sum, queue) => sum + queue.length, 0),
  }
}

/** Node's BroadcastChannel (it delivers between instances of one thread), counting open ones. */
class CountingChannel extends BroadcastChannel {
  static open = 0
  constructor(name: string) {
    super(name)
    CountingChannel.open++
  }
  override close(): void {
    CountingChannel.open--
    super.close()
  }
}
const Channel: BroadcastChannelConstructor = CountingChannel

/** Waits, in 10 ms steps up to `timeoutMs`, for a condition the server side shows. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited >= timeoutMs) throw new Error(`not reached in ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A tab's handle, with what it received and the requests it made. */
interface Tab {
  stream: StreamHandle<DefaultCatalog>
  ids: string[]
  statuses: string[]
  fetches: string[]
}

describe('shareTabs', () => {
  let hub: Hub
  let server: StreamServer
  let locks: ReturnType<typeof createLocks>
  let tabs: Tab[]

  beforeEach(async () => {
    hub = createHub({ heartbeatMs: 100, retryMs: 20 })
    server = await startStreamServer(hub)
    locks = createLocks()
    tabs = []
  })
  afterEach(async () => {
    for (const t of tabs) t.stream.close()
    // Everything an attempt took is given back: its lock or queued request, its channel, its
    // connection.
    await waitFor(
      () => locks.count() === 0 && hub.stats().connections === 0,
      'locks and connections released',
    )
    expect(CountingChannel.open).toBe(0)
    await server.close()
    await hub.close()
    vi.unstubAllGlobals()
  })

  /** A tab: a handle on `path` through shareTabs, recording the ids, statuses and fetches it made. */
  function tab(
    path: string,
    share: ShareTabsOptions = {},
    options: ConnectOptions<DefaultCatalog> & { inner?: Transport } = {},
  ): Tab {
    const fetches: string[] = []
    const { inner = fetchTransport, ...rest } = options
    const stream = connect(`${server.origin}${path}`, {
      transport: shareTabs(inner, { locks: locks.manager, BroadcastChannel: Channel, ...share }),
      fetch: (input, init) => {
        fetches.push(String(input))
        return fetch(input, init)
      },
      backoff: { initialMs: 20, maxMs: 200 },
      random: () => 0.5,
      onError: () => {},
      ...rest,
    })
    const ids: string[] = []
    const statuses: string[] = []
    stream.onStatus((status) => statuses.push(status))
    stream.on('*', (event) => ids.push(event.id))
    const t = { stream, ids, statuses, fetches }
    tabs.push(t)
    return t
  }

  const logIds = async (stream: string) => (await hub.read(stream, null)).events.map((event) => event.id)
  const publish = async (stream: string, count: number) => {
    let id = ''
    for (let i = 0; i < count; i++) {
      id = (await hub.publish(stream, 'task.progress', { taskId: 't1', percent: i % 100 })).id
    }
    return id
  }
  const reach = (t: Tab, id: string) => until(t.stream, (s) => s.lastEventId === id)

  it('lets three tabs hold one connection, each receiving every event once in order', async () => {
    const a = tab('/events/job-1')
    await until(a.stream, (s) => s.status === 'open')
    const b = tab('/events/job-1')
    const c = tab('/events/job-1')
    await Promise.all([b, c].map((t) => until(t.stream, (s) => s.status === 'open')))
    const last = await publish('job-1', 20)
    await Promise.all([a, b, c].map((t) => reach(t, last)))
    const expected = await logIds('job-1')
    for (const t of [a, b, c]) expect(t.ids).toEqual(expected)
    expect(hub.stats().connections).toBe(1)
    expect([a, b, c].map((t) => t.fetches.length)).toEqual([1, 0, 0])
  })

  it('hands the connection to another tab when the leader closes, with no event missed or doubled', async () => {
    const a = tab('/events/job-2')
    await until(a.stream, (s) => s.status === 'open')
    const b = tab('/events/job-2')
    const c = tab('/events/job-2')
    await Promise.all([b, c].map((t) => until(t.stream, (s) => s.status === 'open')))
    const first = await publish('job-2', 10)
    await Promise.all([a, b, c].map((t) => reach(t, first)))
    a.stream.close()
    // Published while no tab is connected: the next leader's resume brings them.
    await publish('job-2', 5)
    await waitFor(() => b.fetches.length + c.fetches.length === 1, 'one tab took over')
    const last = await publish('job-2', 5)
    await Promise.all([b, c].map((t) => reach(t, last)))
    const expected = await logIds('job-2')
    expect(expected).toHaveLength(20)
    for (const t of [b, c]) {
      expect(t.ids).toEqual(expected)
      // The new leader connects within its attempt: no tab goes through a backoff.
      expect(t.statuses).toEqual(['connecting', 'open'])
    }
    await waitFor(() => hub.stats().connections === 1, 'one connection')
  })

  it('gives a tab that joins mid-stream what came before from the leader', async () => {
    const a = tab('/events/job-3')
    await reach(a, await publish('job-3', 5))
    const b = tab('/events/job-3')
    const last = await publish('job-3', 1)
    await reach(b, last)
    expect(b.ids).toEqual(await logIds('job-3'))
    expect(b.fetches).toEqual([])
  })

  it('connects a tab the buffer cannot bring up to date, and drops that connection once it caught up', async () => {
    const a = tab('/events/job-4', { bufferSize: 2 })
    await reach(a, await publish('job-4', 5))
    const b = tab('/events/job-4', { bufferSize: 2 })
    await reach(b, a.stream.lastEventId as string)
    expect(b.fetches).toHaveLength(1)
    // b hands its connection back once a relays an event b already has.
    for (let i = 0; i < 50 && hub.stats().connections > 1; i++) {
      const id = await publish('job-4', 1)
      await Promise.all([reach(a, id), reach(b, id)])
    }
    await waitFor(() => hub.stats().connections === 1, 'the joining tab dropped its own connection')
    const last = await publish('job-4', 3)
    await Promise.all([reach(a, last), reach(b, last)])
    expect(b.ids).toEqual(await logIds('job-4'))
    expect(a.ids).toEqual(b.ids)
    expect(b.fetches).toHaveLength(1)
  })

  it('ends every tab on a terminal event, on a 204, and with the error of a 401', async () => {
    const a = tab('/events/job-5')
    await until(a.stream, (s) => s.status === 'open')
    const b = tab('/events/job-5')
    await until(b.stream, (s) => s.status === 'open')
    const end = await hub.publish('job-5', 'run.completed', {})
    for (const t of [a, b]) {
      await until(t.stream, (s) => s.status === 'closed')
      expect(t.stream.error).toBeNull()
      expect(t.ids.at(-1)).toBe(end.id)
    }

    const ended = [tab('/events/job-5', {}, { lastEventId: end.id })]
    ended.push(tab('/events/job-5', {}, { lastEventId: end.id }))
    for (const t of ended) {
      await until(t.stream, (s) => s.status === 'closed')
      expect(t.stream.error).toBeNull()
    }

    const refused = [tab('/secure/job-6'), tab('/secure/job-6'), tab('/secure/job-6')]
    for (const t of refused) {
      await until(t.stream, (s) => s.status === 'closed')
      expect(t.stream.error).toMatchObject({ code: 'unauthorized', status: 401 })
    }
  })

  it('reconnects every tab after the leader is dropped, and they share one connection again', async () => {
    const a = tab('/events/job-7')
    await until(a.stream, (s) => s.status === 'open')
    const b = tab('/events/job-7')
    await until(b.stream, (s) => s.status === 'open')
    const first = await publish('job-7', 5)
    await Promise.all([a, b].map((t) => reach(t, first)))
    server.cutAll()
    await publish('job-7', 5)
    await waitFor(() => hub.stats().connections === 1, 'reconnected')
    const last = await publish('job-7', 5)
    await Promise.all([a, b].map((t) => reach(t, last)))
    for (const t of [a, b]) expect(t.ids).toEqual(await logIds('job-7'))
    expect(a.statuses).toContain('reconnecting')
    expect(hub.stats().connections).toBe(1)
  })

  it('relays a transport that delivers parsed messages (EventSource)', async () => {
    const options = { inner: eventSourceTransport, EventSource }
    const a = tab('/events/job-8', {}, options)
    await reach(a, await publish('job-8', 3))
    const b = tab('/events/job-8', {}, options)
    const last = await publish('job-8', 3)
    await reach(b, last)
    expect(a.ids).toEqual(await logIds('job-8'))
    expect(b.ids).toEqual(a.ids)
    expect(hub.stats().connections).toBe(1)
  })

  it('shares only between tabs of the same key', async () => {
    const a = tab('/events/job-9', { key: 'alice' })
    const b = tab('/events/job-9', { key: 'bob' })
    const c = tab('/events/job-9', { key: 'alice' })
    await Promise.all([a, b, c].map((t) => until(t.stream, (s) => s.status === 'open')))
    const last = await publish('job-9', 3)
    await Promise.all([a, b, c].map((t) => reach(t, last)))
    expect(hub.stats().connections).toBe(2)
    expect(c.ids).toEqual(a.ids)
  })

  it('connects each tab alone when the lock manager refuses', async () => {
    const refusing: LockManagerLike = {
      request: () => Promise.reject(new DOMException('no storage access', 'SecurityError')),
    }
    const a = tab('/events/job-10', { locks: refusing })
    const b = tab('/events/job-10', { locks: refusing })
    const last = await publish('job-10', 3)
    await Promise.all([a, b].map((t) => reach(t, last)))
    expect(b.ids).toEqual(await logIds('job-10'))
    expect(a.ids).toEqual(b.ids)
    expect(hub.stats().connections).toBe(2)
  })

  it('ends the attempt with the error of an inner transport that throws once it leads', async () => {
    const throwing: Transport = {
      name: 'throwing',
      check: () => undefined,
      open: () => {
        throw new Error('no socket')
      },
    }
    const a = tab('/events/job-11', {}, { inner: throwing })
    await until(a.stream, (s) => s.status === 'closed')
    expect(a.stream.error).toMatchObject({ code: 'invalid-option' })
  })

  it('is the inner transport where Web Locks or BroadcastChannel is missing', () => {
    const calls: unknown[][] = []
    const inner: Transport = { name: 'spy', check: () => undefined, open: (...args) => void calls.push(args) }
    vi.stubGlobal('navigator', {})
    const request = {
      url: 'https://api.test/a',
      lastEventId: () => null,
      signal: new AbortController().signal,
      headers: async () => ({}),
    }
    const sink = { open() {}, activity() {}, idle() {}, text() {}, message() {}, end() {} }
    const options = {} as Parameters<Transport['open']>[2]
    shareTabs(inner, { BroadcastChannel: Channel }).open(request, sink, options)
    vi.stubGlobal('BroadcastChannel', undefined)
    shareTabs(inner, { locks: locks.manager }).open(request, sink, options)
    expect(calls).toEqual([
      [request, sink, options],
      [request, sink, options],
    ])
    expect(calls[0]?.[0]).toBe(request)
    expect(calls[0]?.[1]).toBe(sink)
    expect(() => shareTabs(inner, { bufferSize: -1 })).toThrow('bufferSize')
  })
})
