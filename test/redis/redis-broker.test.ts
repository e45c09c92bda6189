import { createClient } from 'redis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { compareEventIds, isTaskwireError, type TaskwireError } from '../../src/core/index.js'
import { createRedisBroker, type RedisBroker, type RedisBrokerOptions } from '../../src/redis/index.js'
import type { AppendedEvent, BrokerListener, StoredEvent, UnsequencedEvent } from '../../src/server/index.js'
import { deleteKeys, freshPrefix, redisAvailable, redisUrl } from '../helpers/redis.js'
import { brokerContract } from '../server/broker-contract.js'

const TS = '2026-11-21T10:00:00.000Z'
const WAIT_MS = 5000

const event = (stream: string, n: number): UnsequencedEvent => {
  const data = { taskId: `t${n}` }
  return { type: 'task.created', stream, ts: TS, data, dataJson: JSON.stringify(data) }
}

/** The event as readers get it: `previousId` is told by `append` only. */
const stored = ({ previousId: _, ...event }: AppendedEvent): StoredEvent => event

/** Errors the brokers report; a test that expects none checks this stays empty. */
const reported: TaskwireError[] = []
const onError = (error: TaskwireError): void => {
  reported.push(error)
}

// One prefix for the file: the contract's brokers and their peers share it, as processes of
// one application would; every test uses fresh stream names under it.
const prefix = freshPrefix('redis-broker')

/** Brokers made by a test, closed after it. */
const opened = new Set<RedisBroker>()
const open = async (options: RedisBrokerOptions = {}): Promise<RedisBroker> => {
  const broker = await createRedisBroker({ url: redisUrl, prefix, onError, ...options })
  opened.add(broker)
  return broker
}

let counter = 0
const fresh = (label = 'stream'): string => `${label}-${Date.now()}-${++counter}`

/** Resolves once `done()` holds, checking after each delivery; fails after WAIT_MS. */
function recorder(): BrokerListener & {
  events: StoredEvent[]
  gaps: string[]
  until(count: number): Promise<void>
} {
  const events: StoredEvent[] = []
  const gaps: string[] = []
  let wake = (): void => {}
  return {
    events,
    gaps,
    event(e) {
      events.push(e)
      wake()
    },
    gap(reason) {
      gaps.push(reason)
    },
    until(count) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`Waited ${WAIT_MS} ms for ${count} events; got ${events.length}.`)),
          WAIT_MS,
        )
        wake = () => {
          if (events.length < count) return
          clearTimeout(timer)
          resolve()
        }
        wake()
      })
    },
  }
}

/** Polls `check` every 20 ms until it holds, failing after WAIT_MS. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let round = 0; round < WAIT_MS / 20; round++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`Waited ${WAIT_MS} ms for ${what}.`)
}

/** The connections named `name` that Redis lists, with their ids. */
async function clientsNamed(name: string): Promise<string[]> {
  const admin = createClient({ url: redisUrl })
  admin.on('error', () => {})
  await admin.connect()
  try {
    const list = await admin.clientList()
    return list.filter((client) => client.name === name).map((client) => String(client.id))
  } finally {
    admin.destroy()
  }
}

describe.skipIf(!redisAvailable)('createRedisBroker', () => {
  afterEach(async () => {
    const brokers = [...opened]
    opened.clear()
    for (const broker of brokers) await broker.close()
  })

  afterAll(async () => {
    await deleteKeys(prefix)
  })

  brokerContract('redis broker', {
    make: ({ maxEvents }) => createRedisBroker({ url: redisUrl, prefix, maxLen: maxEvents, onError }),
    peer: (_broker, { maxEvents }) =>
      createRedisBroker({ url: redisUrl, prefix, maxLen: maxEvents, onError }),
  })

  it('uses Redis entry ids, which a new broker (a restarted process) resumes from', async () => {
    const stream = fresh()
    const before = await open()
    const appended: AppendedEvent[] = []
    for (let n = 1; n <= 5; n++) appended.push(await before.append(event(stream, n)))
    for (const e of appended) expect(e.id).toMatch(/^\d+-\d+$/)
    expect(appended.map((e) => e.previousId)).toEqual([null, ...appended.slice(0, 4).map((e) => e.id)])
    const events = appended.map(stored)
    await before.close()
    const after = await open()
    expect(await after.read(stream, events[2]!.id)).toEqual({ events: events.slice(3), expired: false })
    const heard = recorder()
    const stop = await after.subscribe(stream, events[3]!.id, heard)
    const next = await after.append(event(stream, 6))
    expect(next.previousId).toBe(events[4]!.id)
    await heard.until(2)
    stop()
    expect(heard.events.map((e) => e.id)).toEqual([events[4]!.id, next.id])
    expect(compareEventIds(next.id, events[4]!.id)).toBeGreaterThan(0)
  })

  it('reads 0, 0-0 and the empty string as the start of the log, and a malformed or future id as unknown', async () => {
    const broker = await open()
    const stream = fresh()
    const first = await broker.append(event(stream, 1))
    for (const start of ['0', '0-0', '', '000-0']) {
      expect((await broker.read(stream, start)).events.map((e) => e.id)).toEqual([first.id])
    }
    const unknown = { events: [], expired: true, reason: 'cursor-unknown' }
    expect(await broker.read(stream, '99999999999999-0')).toEqual(unknown)
    expect(await broker.read(stream, '1-2-3')).toEqual(unknown)
    expect(await broker.read(stream, '99999999999999999999999-0')).toEqual(unknown)
    const [ms, seq] = first.id.split('-')
    expect(await broker.read(stream, `${ms}`)).toMatchObject({ expired: false })
    expect(await broker.read(stream, `000${ms}-${seq}`)).toEqual({ events: [], expired: false })
  })

  it('leaves the client it was given open, and closes the connections it made', async () => {
    const clientPrefix = freshPrefix('own-client')
    const client = createClient({ url: redisUrl })
    client.on('error', () => {})
    await client.connect()
    try {
      const broker = await createRedisBroker({ client, prefix: clientPrefix, onError })
      const stream = fresh()
      const heard = recorder()
      const stop = await broker.subscribe(stream, null, heard)
      await broker.listen(fresh('channel'), () => {})
      await broker.append(event(stream, 1))
      await heard.until(1)
      expect(await clientsNamed(`${clientPrefix}reader`)).toHaveLength(1)
      expect(await clientsNamed(`${clientPrefix}listener`)).toHaveLength(1)
      stop()
      await broker.close()
      expect(client.isReady).toBe(true)
      expect(await client.ping()).toBe('PONG')
      await eventually(
        async () =>
          (await clientsNamed(`${clientPrefix}reader`)).length === 0 &&
          (await clientsNamed(`${clientPrefix}listener`)).length === 0,
        'the connections of the broker to close',
      )
    } finally {
      client.destroy()
      await deleteKeys(clientPrefix)
    }
  })

  it('works on a client that speaks RESP2', async () => {
    const client = createClient({ url: redisUrl, RESP: 2 })
    client.on('error', () => {})
    await client.connect()
    try {
      const broker = await createRedisBroker({ client, prefix, onError })
      opened.add(broker)
      const stream = fresh()
      const first = stored(await broker.append(event(stream, 1)))
      const heard = recorder()
      const stop = await broker.subscribe(stream, null, heard)
      const second = stored(await broker.append(event(stream, 2)))
      await heard.until(2)
      stop()
      expect(heard.events).toEqual([first, second])
      expect(await broker.read(stream, first.id)).toEqual({ events: [second], expired: false })
      const messages: string[] = []
      await broker.listen(fresh('channel'), (message) => messages.push(message))
      expect(await broker.claim(fresh('claim'), 'v', 1000)).toBe('v')
      await broker.close()
    } finally {
      client.destroy()
    }
  })

  it('reads every subscribed stream over one blocking connection', async () => {
    const readerPrefix = freshPrefix('one-reader')
    const broker = await createRedisBroker({ url: redisUrl, prefix: readerPrefix, onError })
    opened.add(broker)
    try {
      const streams = Array.from({ length: 20 }, () => fresh())
      const listeners = streams.map(() => recorder())
      const stops = await Promise.all(streams.map((s, i) => broker.subscribe(s, null, listeners[i]!)))
      await Promise.all(streams.map((s) => broker.append(event(s, 1))))
      await Promise.all(listeners.map((l) => l.until(1)))
      expect(await clientsNamed(`${readerPrefix}reader`)).toHaveLength(1)
      expect(broker.stats()).toEqual({ streams: 20, subscriptions: 20, channels: 0 })
      for (const stop of stops) stop()
      expect(broker.stats()).toEqual({ streams: 0, subscriptions: 0, channels: 0 })
    } finally {
      await deleteKeys(readerPrefix)
    }
  })

  it('forgets a channel with its last listener', async () => {
    const broker = await open()
    const channel = fresh('channel')
    const stops = [await broker.listen(channel, () => {}), await broker.listen(channel, () => {})]
    expect(broker.stats().channels).toBe(1)
    for (const stop of stops) stop()
    expect(broker.stats().channels).toBe(0)
  })

  it('resumes every subscription where it was when its blocking connection is killed', async () => {
    const killPrefix = freshPrefix('kill-reader')
    const errors: TaskwireError[] = []
    const broker = await createRedisBroker({
      url: redisUrl,
      prefix: killPrefix,
      onError: (error) => errors.push(error),
    })
    opened.add(broker)
    try {
      const stream = fresh()
      const heard = recorder()
      const stop = await broker.subscribe(stream, null, heard)
      const appended: StoredEvent[] = []
      for (let n = 1; n <= 5; n++) appended.push(await broker.append(event(stream, n)))
      await heard.until(5)
      const [readerId] = await clientsNamed(`${killPrefix}reader`)
      expect(readerId).toBeDefined()
      const admin = createClient({ url: redisUrl })
      admin.on('error', () => {})
      await admin.connect()
      try {
        await admin.sendCommand(['CLIENT', 'KILL', 'ID', readerId!])
        // Appended while the reader reconnects: delivered once it is back, once each.
        for (let n = 6; n <= 15; n++) appended.push(await broker.append(event(stream, n)))
      } finally {
        admin.destroy()
      }
      await heard.until(15)
      const more = await broker.append(event(stream, 16))
      await heard.until(16)
      stop()
      expect(heard.events.map((e) => e.id)).toEqual([...appended, more].map((e) => e.id))
      expect(heard.gaps).toEqual([])
      // A new connection took over, and the outage was reported once.
      const [newReaderId] = await clientsNamed(`${killPrefix}reader`)
      expect(newReaderId).toBeDefined()
      expect(newReaderId).not.toBe(readerId)
      expect(errors.map((error) => error.code)).toEqual(['broker-unavailable'])
    } finally {
      await deleteKeys(killPrefix)
    }
  })

  it('trims events older than maxAgeMs and expires idle streams after idleStreamMs', async () => {
    const broker = await open({ maxAgeMs: 200, idleStreamMs: 60_000 })
    const stream = fresh()
    const old: StoredEvent[] = []
    for (let n = 1; n <= 300; n++) old.push(await broker.append(event(stream, n)))
    // Bounded: the age bound is 200 ms; wait until the oldest events are older than that.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const recent = await broker.append(event(stream, 301))
    const read = await broker.read(stream, null)
    expect(read).toMatchObject({ expired: true, reason: 'cursor-expired' })
    expect(read.events.length).toBeLessThan(301)
    expect(read.events.at(-1)).toEqual(stored(recent))
    const admin = createClient({ url: redisUrl })
    admin.on('error', () => {})
    await admin.connect()
    try {
      const ttl = await admin.pTTL(`${prefix}s:${stream}`)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(60_000)
    } finally {
      admin.destroy()
    }
  })

  it('refuses calls once closed with a broker error', async () => {
    const broker = await createRedisBroker({ url: redisUrl, prefix, onError })
    await broker.close()
    await broker.close()
    await expect(broker.append(event(fresh(), 1))).rejects.toMatchObject({ code: 'broker' })
    await expect(broker.read(fresh(), null)).rejects.toMatchObject({ code: 'broker' })
  })

  it('fails with broker-unavailable when Redis cannot be reached', async () => {
    const error = await createRedisBroker({ url: 'redis://127.0.0.1:1', prefix, onError }).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(isTaskwireError(error) && error.code).toBe('broker-unavailable')
  })

  it('reports no error in a test that expects none', () => {
    // Listener errors of the contract's throwing-listener test are the only expected ones.
    expect(reported.filter((error) => !/listener of stream/.test(error.message))).toEqual([])
  })
})

describe('createRedisBroker options', () => {
  const invalid = async (options: RedisBrokerOptions): Promise<unknown> =>
    createRedisBroker(options).then(
      async (broker) => {
        await broker.close()
        return undefined
      },
      (caught: unknown) => caught,
    )

  it.each([
    ['url and client together', { url: redisUrl, client: createClient() }],
    ['a client not connected', { client: createClient() }],
    ['an empty url', { url: '' }],
    ['maxLen 0', { maxLen: 0 }],
    ['maxLen 1.5', { maxLen: 1.5 }],
    ['maxAgeMs -1', { maxAgeMs: -1 }],
    ['idleStreamMs NaN', { idleStreamMs: Number.NaN }],
    ['blockMs 0', { blockMs: 0 }],
    ['retryAfterMs -5', { retryAfterMs: -5 }],
    ['a prefix that is not a string', { prefix: 3 as unknown as string }],
  ] as [string, RedisBrokerOptions][])('refuses %s with invalid-option', async (_, options) => {
    const error = await invalid(options)
    expect(isTaskwireError(error) && error.code).toBe('invalid-option')
  })
})
