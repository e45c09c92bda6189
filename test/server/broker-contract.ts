import { afterEach, describe, expect, it } from 'vitest'
import { compareEventIds, initialRunState, isTaskwireError, type RunState } from '../../src/core/index.js'
import type {
  Broker,
  BrokerListener,
  StoredEvent,
  StreamCheckpoint,
  UnsequencedEvent,
} from '../../src/server/index.js'

/** What the contract asks of the factory: a replay log bounded to `maxEvents` per stream. */
export interface BrokerContractOptions {
  /** About how many events the broker keeps per stream; the expiry tests append 50 times more. */
  maxEvents: number
}

/** How the contract gets the brokers it tests. */
export interface BrokerContractSubject {
  /** A new broker whose logs keep about `maxEvents` events per stream. */
  make(options: BrokerContractOptions): Promise<Broker>
  /** Another broker on the same shared store as `broker` (what another process sees); the memory broker returns `broker` itself. */
  peer(broker: Broker, options: BrokerContractOptions): Promise<Broker>
}

const TS = '2026-11-21T10:00:00.000Z'

/** The longest any test waits for a delivery before failing with what it got. */
const WAIT_MS = 5000

const taskCreated = (stream: string, n: number): UnsequencedEvent => {
  const data = { taskId: `t${n}` }
  return { type: 'task.created', stream, ts: TS, data, dataJson: JSON.stringify(data) }
}

const idsOf = (events: readonly StoredEvent[]): string[] => events.map((event) => event.id)

const sortIds = (ids: readonly string[]): string[] => [...ids].sort(compareEventIds)

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A listener that records what it is told and lets a test wait for it, within `WAIT_MS`. */
class Recorder implements BrokerListener {
  readonly events: StoredEvent[] = []
  readonly gaps: string[] = []
  /** How many events had arrived when each gap was told. */
  readonly gapsAt: number[] = []
  readonly #waiters = new Set<() => void>()

  event(event: StoredEvent): void {
    this.events.push(event)
    for (const check of [...this.#waiters]) check()
  }

  gap(reason: 'cursor-expired' | 'cursor-unknown'): void {
    this.gaps.push(reason)
    this.gapsAt.push(this.events.length)
    for (const check of [...this.#waiters]) check()
  }

  ids(): string[] {
    return idsOf(this.events)
  }

  /** Resolves once `done()` holds; rejects after `WAIT_MS` saying what arrived. */
  until(done: () => boolean, what: string): Promise<void> {
    if (done()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done()) return
        cleanup()
        resolve()
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(
          new Error(
            `Waited ${WAIT_MS} ms for ${what}; got ${this.events.length} events and gaps [${this.gaps.join(', ')}].`,
          ),
        )
      }, WAIT_MS)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(check)
      }
      this.#waiters.add(check)
    })
  }

  /** Resolves once `count` events arrived. */
  count(count: number): Promise<void> {
    return this.until(() => this.events.length >= count, `${count} events`)
  }
}

/** Records the messages of a channel, like {@link Recorder}. */
class Inbox {
  readonly messages: string[] = []
  readonly #waiters = new Set<() => void>()
  readonly listener = (message: string): void => {
    this.messages.push(message)
    for (const check of [...this.#waiters]) check()
  }

  count(count: number): Promise<void> {
    if (this.messages.length >= count) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.messages.length < count) return
        cleanup()
        resolve()
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`Waited ${WAIT_MS} ms for ${count} messages; got [${this.messages.join(', ')}].`))
      }, WAIT_MS)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(check)
      }
      this.#waiters.add(check)
    })
  }
}

/** Polls `check` every 10 ms until it holds, at most `WAIT_MS`. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  for (let round = 0; round < WAIT_MS / 10; round++) {
    if (await check()) return
    if (Date.now() > deadline) break
    await sleep(10)
  }
  throw new Error(`Waited ${WAIT_MS} ms for ${what}.`)
}

/**
 * Appends and returns the event as readers get it: without `previousId`, which only
 * `append` tells.
 */
async function append(broker: Broker, event: UnsequencedEvent): Promise<StoredEvent> {
  const { previousId: _, ...stored } = await broker.append(event)
  return stored
}

async function appendMany(broker: Broker, stream: string, count: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for (let n = 1; n <= count; n++) out.push(await append(broker, taskCreated(stream, n)))
  return out
}

const checkpointAt = (stream: string, lastEventId: string, step: number, ended = false): StreamCheckpoint => {
  const state: RunState = {
    ...initialRunState,
    stream,
    status: ended ? 'completed' : 'running',
    startedAt: TS,
    meta: { step, label: 'café ☕' },
    lastEventId,
  }
  return { state, ended }
}

/**
 * Registers the tests every {@link Broker} must pass: the in-memory broker runs them in
 * `memory-broker.test.ts`, the Redis broker in `test/redis/redis-broker.test.ts`. Each test
 * uses fresh stream, claim and channel names, so brokers on a shared server can run them as
 * they are. Ids are compared with `compareEventIds` only: nothing here knows their form.
 *
 * @param name - the broker's name in the test titles
 * @param subject - makes a broker, and a peer of it on the same store
 */
export function brokerContract(name: string, subject: BrokerContractSubject): void {
  describe(`${name} (broker contract)`, () => {
    const open = new Set<Broker>()
    const make = async (options: BrokerContractOptions = { maxEvents: 100 }): Promise<Broker> => {
      const broker = await subject.make(options)
      open.add(broker)
      return broker
    }
    const peer = async (
      broker: Broker,
      options: BrokerContractOptions = { maxEvents: 100 },
    ): Promise<Broker> => {
      const other = await subject.peer(broker, options)
      open.add(other)
      return other
    }
    let counter = 0
    const fresh = (label = 'stream'): string =>
      `contract-${label}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}-${++counter}`

    afterEach(async () => {
      const brokers = [...open]
      open.clear()
      for (const broker of brokers) await broker.close()
    })

    describe('logs', () => {
      it('assigns ids that strictly increase within a stream and keeps the event fields', async () => {
        const broker = await make()
        const stream = fresh()
        const events = await appendMany(broker, stream, 5)
        for (const [index, event] of events.entries()) {
          expect(event).toMatchObject({
            type: 'task.created',
            stream,
            ts: TS,
            data: { taskId: `t${index + 1}` },
            dataJson: JSON.stringify({ taskId: `t${index + 1}` }),
          })
          expect(typeof event.id).toBe('string')
          const previous = events[index - 1]
          if (previous) expect(compareEventIds(event.id, previous.id)).toBeGreaterThan(0)
        }
      })

      it('gives concurrent appends distinct ids, delivered to a subscriber in id order', async () => {
        const broker = await make()
        const stream = fresh()
        const heard = new Recorder()
        const stop = await broker.subscribe(stream, null, heard)
        const appended = await Promise.all(
          Array.from({ length: 30 }, (_, n) => append(broker, taskCreated(stream, n))),
        )
        await heard.count(30)
        stop()
        expect(new Set(idsOf(appended)).size).toBe(30)
        expect(heard.ids()).toEqual(sortIds(idsOf(appended)))
        expect(heard.gaps).toEqual([])
      })

      it('tells the id before each appended event, when it tells one', async () => {
        const broker = await make()
        const stream = fresh()
        const first = await broker.append(taskCreated(stream, 1))
        const second = await broker.append(taskCreated(stream, 2))
        if (first.previousId !== undefined) expect(first.previousId).toBeNull()
        if (second.previousId !== undefined) expect(second.previousId).toBe(first.id)
        const concurrent = await Promise.all(
          Array.from({ length: 20 }, (_, n) => broker.append(taskCreated(stream, n))),
        )
        const log = idsOf((await broker.read(stream, null)).events)
        for (const event of concurrent) {
          if (event.previousId !== undefined) expect(event.previousId).toBe(log[log.indexOf(event.id) - 1])
        }
      })

      it('keeps the streams apart', async () => {
        const broker = await make()
        const a = fresh()
        const b = fresh()
        await appendMany(broker, a, 3)
        await appendMany(broker, b, 2)
        expect((await broker.read(a, null)).events.map((event) => event.stream)).toEqual([a, a, a])
        expect((await broker.read(b, null)).events).toHaveLength(2)
      })

      it('reads the whole retained log without a cursor and what follows a cursor with one', async () => {
        const broker = await make()
        const stream = fresh()
        const events = await appendMany(broker, stream, 6)
        expect(await broker.read(stream, null)).toEqual({ events, expired: false })
        expect(await broker.read(stream, '0')).toEqual({ events, expired: false })
        expect(await broker.read(stream, events[2]!.id)).toEqual({ events: events.slice(3), expired: false })
        expect(await broker.read(stream, events[5]!.id)).toEqual({ events: [], expired: false })
      })

      it('reads an unknown stream as empty', async () => {
        const broker = await make()
        expect(await broker.read(fresh(), null)).toEqual({ events: [], expired: false })
      })

      it('marks a cursor older than the retained log as expired and returns what the log retains', async () => {
        const broker = await make({ maxEvents: 10 })
        const stream = fresh()
        // Fifty times the bound: a log that trims approximately (Redis, in whole blocks) trims too.
        const events = await appendMany(broker, stream, 500)
        const whole = await broker.read(stream, null)
        expect(whole).toMatchObject({ expired: true, reason: 'cursor-expired' })
        expect(whole.events.length).toBeGreaterThanOrEqual(10)
        expect(whole.events.length).toBeLessThan(500)
        expect(whole.events).toEqual(events.slice(-whole.events.length))
        expect(await broker.read(stream, events[1]!.id)).toEqual({
          events: whole.events,
          expired: true,
          reason: 'cursor-expired',
        })
        expect(await broker.read(stream, events[498]!.id)).toEqual({ events: [events[499]], expired: false })
      })

      it('marks a cursor the stream never issued as unknown', async () => {
        const broker = await make()
        const stream = fresh()
        await appendMany(broker, stream, 3)
        const unknown = { events: [], expired: true, reason: 'cursor-unknown' }
        expect(await broker.read(stream, 'not-an-id')).toEqual(unknown)
        expect(await broker.read(fresh(), '12')).toEqual(unknown)
      })

      it('hands back dataJson verbatim from append, read and subscribe', async () => {
        const broker = await make()
        const stream = fresh()
        // Keys out of order, escapes JSON.stringify would not write, and characters outside
        // the BMP: what the publishing hub serialized is what every reader gets.
        const data = { z: 1, a: 'é 😀 \u2028', nested: { b: [3, 1, 2], a: null } }
        const dataJson = '{"z":1,"a":"\\u00e9 😀 \\u2028","nested":{"b":[3,1,2],"a":null}}'
        expect(JSON.parse(dataJson)).toEqual(data)
        const heard = new Recorder()
        const stop = await broker.subscribe(stream, null, heard)
        const stored = await append(broker, { type: 'task.created', stream, ts: TS, data, dataJson })
        await heard.count(1)
        stop()
        const [read] = (await broker.read(stream, null)).events
        for (const event of [stored, read, heard.events[0]]) {
          expect(event?.dataJson).toBe(dataJson)
          expect(event?.data).toEqual(data)
        }
      })
    })

    describe('subscriptions', () => {
      it('tells subscribers of later events in order, and only of their stream', async () => {
        const broker = await make()
        const stream = fresh()
        const before = await appendMany(broker, stream, 2)
        const first = new Recorder()
        const second = new Recorder()
        const stops = [
          await broker.subscribe(stream, before[1]!.id, first),
          await broker.subscribe(stream, before[1]!.id, second),
        ]
        await appendMany(broker, fresh(), 2)
        const appended = await appendMany(broker, stream, 5)
        await first.count(5)
        await second.count(5)
        for (const stop of stops) stop()
        expect(first.events).toEqual(appended)
        expect(second.events).toEqual(appended)
      })

      it('stops telling a subscriber once it unsubscribes', async () => {
        const broker = await make()
        const stream = fresh()
        const gone = new Recorder()
        const staying = new Recorder()
        const unsubscribe = await broker.subscribe(stream, null, gone)
        const stop = await broker.subscribe(stream, null, staying)
        await append(broker, taskCreated(stream, 1))
        await gone.count(1)
        unsubscribe()
        unsubscribe()
        await append(broker, taskCreated(stream, 2))
        await staying.count(2)
        stop()
        expect(gone.events.map((event) => event.data)).toEqual([{ taskId: 't1' }])
      })

      it('gives two subscriptions of one stream each the events after their own cursor', async () => {
        const broker = await make()
        const stream = fresh()
        const events = await appendMany(broker, stream, 8)
        const early = new Recorder()
        const late = new Recorder()
        const stops = [
          await broker.subscribe(stream, events[1]!.id, early),
          await broker.subscribe(stream, events[5]!.id, late),
        ]
        const more = await appendMany(broker, stream, 2)
        await early.count(8)
        await late.count(4)
        for (const stop of stops) stop()
        expect(early.ids()).toEqual(idsOf([...events.slice(2), ...more]))
        expect(late.ids()).toEqual(idsOf([...events.slice(6), ...more]))
      })

      it('subscribes without a cursor to the whole retained log, then live events', async () => {
        const broker = await make()
        const stream = fresh()
        const before = await appendMany(broker, stream, 4)
        const heard = new Recorder()
        const stop = await broker.subscribe(stream, null, heard)
        const after = await appendMany(broker, stream, 3)
        await heard.count(7)
        stop()
        expect(heard.events).toEqual([...before, ...after])
        expect(heard.gaps).toEqual([])
      })

      it('replays after a cursor then goes live without a gap or a duplicate while appends run', async () => {
        const broker = await make()
        const stream = fresh()
        const appended: StoredEvent[] = []
        let reachedCursor: () => void = () => {}
        const atCursor = new Promise<void>((resolve) => {
          reachedCursor = resolve
        })
        const writing = (async () => {
          for (let n = 1; n <= 50; n++) {
            appended.push(await append(broker, taskCreated(stream, n)))
            if (n === 20) reachedCursor()
          }
        })()
        await atCursor
        const cursor = appended[19]!.id
        const heard = new Recorder()
        // Subscribed while the appends go on: some events are replayed, the rest are live.
        const stop = await broker.subscribe(stream, cursor, heard)
        await writing
        await heard.count(30)
        stop()
        expect(heard.ids()).toEqual(idsOf(appended.slice(20)))
        expect(heard.gaps).toEqual([])
      })

      it('delivers exactly the events after the cursor when 50 appends are in flight as it subscribes', async () => {
        const broker = await make()
        const stream = fresh()
        const before = await appendMany(broker, stream, 10)
        const cursor = before[9]!.id
        const writes = Promise.all(
          Array.from({ length: 50 }, (_, n) => append(broker, taskCreated(stream, n))),
        )
        const heard = new Recorder()
        const stop = await broker.subscribe(stream, cursor, heard)
        const appended = await writes
        await heard.count(50)
        stop()
        expect(heard.ids()).toEqual(sortIds(idsOf(appended)))
        expect(heard.gaps).toEqual([])
      })

      it('tells a subscriber with an expired cursor of the gap once, then delivers the retained events', async () => {
        const broker = await make({ maxEvents: 10 })
        const stream = fresh()
        const events = await appendMany(broker, stream, 500)
        const retained = (await broker.read(stream, null)).events
        expect(retained.length).toBeLessThan(500)
        const heard = new Recorder()
        const stop = await broker.subscribe(stream, events[1]!.id, heard)
        await heard.count(retained.length)
        const next = await append(broker, taskCreated(stream, 501))
        await heard.count(retained.length + 1)
        stop()
        expect(heard.gaps).toEqual(['cursor-expired'])
        expect(heard.gapsAt).toEqual([0])
        expect(heard.ids()).toEqual([...idsOf(retained), next.id])
      })

      it('tells a subscriber with a cursor the log never issued of the gap, then delivers the log', async () => {
        const broker = await make()
        const stream = fresh()
        const events = await appendMany(broker, stream, 3)
        const heard = new Recorder()
        const stop = await broker.subscribe(stream, 'not-an-id', heard)
        const next = await append(broker, taskCreated(stream, 4))
        await heard.until(() => heard.ids().includes(next.id), 'the live event')
        stop()
        expect(heard.gaps).toEqual(['cursor-unknown'])
        expect(heard.gapsAt).toEqual([0])
        expect(heard.ids()).toEqual(idsOf([...events, next]))
      })

      it('keeps telling the other subscribers when one throws', async () => {
        const broker = await make()
        const stream = fresh()
        const stops = [
          await broker.subscribe(stream, null, {
            event: () => {
              throw new Error('listener bug')
            },
            gap: () => {},
          }),
        ]
        const heard = new Recorder()
        stops.push(await broker.subscribe(stream, null, heard))
        const appended = await appendMany(broker, stream, 2)
        await heard.count(2)
        for (const stop of stops) stop()
        expect(heard.events).toEqual(appended)
      })
    })

    describe('checkpoints', () => {
      it('has no checkpoint for a stream that never saved one', async () => {
        const broker = await make()
        expect(await broker.loadCheckpoint(fresh())).toBeNull()
      })

      it('loads the checkpoint it saved', async () => {
        const broker = await make()
        const stream = fresh()
        const events = await appendMany(broker, stream, 3)
        const checkpoint = checkpointAt(stream, events[2]!.id, 3, true)
        await broker.saveCheckpoint(stream, checkpoint)
        expect(await broker.loadCheckpoint(stream)).toEqual(checkpoint)
      })

      it('keeps the newer checkpoint when an older one is saved after it', async () => {
        const broker = await make()
        const stream = fresh()
        const events = await appendMany(broker, stream, 4)
        const newer = checkpointAt(stream, events[3]!.id, 4)
        await broker.saveCheckpoint(stream, newer)
        await broker.saveCheckpoint(stream, checkpointAt(stream, events[1]!.id, 2))
        expect(await broker.loadCheckpoint(stream)).toEqual(newer)
      })
    })

    describe('claims', () => {
      it('gives a free key to the first claim and tells a second claim who holds it', async () => {
        const broker = await make()
        const key = fresh('claim')
        expect(await broker.lookup(key)).toBeNull()
        expect(await broker.claim(key, 'first', 10_000)).toBe('first')
        expect(await broker.claim(key, 'second', 10_000)).toBe('first')
        expect(await broker.lookup(key)).toBe('first')
      })

      it('renews a claim only for the value it holds', async () => {
        const broker = await make()
        const key = fresh('claim')
        await broker.claim(key, 'owner', 10_000)
        expect(await broker.renew(key, 'intruder', 20_000)).toBe(false)
        expect(await broker.renew(key, 'intruder', 0)).toBe(false)
        expect(await broker.lookup(key)).toBe('owner')
        expect(await broker.renew(key, 'owner', 20_000)).toBe(true)
        expect(await broker.lookup(key)).toBe('owner')
        expect(await broker.renew(fresh('claim'), 'owner', 20_000)).toBe(false)
      })

      it('drops a claim renewed with a ttl of 0, so a new claim takes it', async () => {
        const broker = await make()
        const key = fresh('claim')
        await broker.claim(key, 'owner', 10_000)
        expect(await broker.renew(key, 'owner', 0)).toBe(true)
        expect(await broker.lookup(key)).toBeNull()
        expect(await broker.claim(key, 'next', 10_000)).toBe('next')
      })

      it('lets a claim lapse after its ttl', async () => {
        const broker = await make()
        const key = fresh('claim')
        expect(await broker.claim(key, 'short', 50)).toBe('short')
        await eventually(async () => (await broker.lookup(key)) === null, 'the claim to lapse')
        expect(await broker.claim(key, 'next', 10_000)).toBe('next')
      })
    })

    describe('channels', () => {
      it('delivers a message to the listeners of its channel only', async () => {
        const broker = await make()
        const one = fresh('channel')
        const two = fresh('channel')
        const inOne = new Inbox()
        const inTwo = new Inbox()
        const stops = [await broker.listen(one, inOne.listener), await broker.listen(two, inTwo.listener)]
        await broker.notify(two, 'for two')
        await broker.notify(one, 'for one')
        await inOne.count(1)
        await inTwo.count(1)
        for (const stop of stops) stop()
        expect(inOne.messages).toEqual(['for one'])
        expect(inTwo.messages).toEqual(['for two'])
      })

      it('counts the processes listening to a channel', async () => {
        const broker = await make()
        const channel = fresh('channel')
        expect(await broker.notify(channel, 'nobody')).toBe(0)
        const inbox = new Inbox()
        const stop = await broker.listen(channel, inbox.listener)
        expect(await broker.notify(channel, 'someone')).toBe(1)
        await inbox.count(1)
        stop()
        expect(inbox.messages).toEqual(['someone'])
      })

      it('stops delivering to a listener once it stops', async () => {
        const broker = await make()
        const channel = fresh('channel')
        const gone = new Inbox()
        const staying = new Inbox()
        const stopGone = await broker.listen(channel, gone.listener)
        const stopStaying = await broker.listen(channel, staying.listener)
        await broker.notify(channel, 'one')
        await gone.count(1)
        stopGone()
        stopGone()
        await broker.notify(channel, 'two')
        await staying.count(2)
        stopStaying()
        expect(gone.messages).toEqual(['one'])
        expect(staying.messages).toEqual(['one', 'two'])
      })
    })

    describe('across processes', () => {
      it('tells a subscriber on one broker of events appended on another', async () => {
        const a = await make()
        const b = await peer(a)
        const stream = fresh()
        const heard = new Recorder()
        const stop = await b.subscribe(stream, null, heard)
        const appended = await appendMany(a, stream, 3)
        await heard.count(3)
        stop()
        expect(heard.events).toEqual(appended)
      })

      it('orders concurrent appends from two brokers the same way for every reader', async () => {
        const a = await make()
        const b = await peer(a)
        const stream = fresh()
        const onA = new Recorder()
        const onB = new Recorder()
        const stops = [await a.subscribe(stream, null, onA), await b.subscribe(stream, null, onB)]
        const appended = await Promise.all(
          Array.from({ length: 60 }, (_, n) => append(n % 2 === 0 ? a : b, taskCreated(stream, n))),
        )
        await onA.count(60)
        await onB.count(60)
        for (const stop of stops) stop()
        const order = sortIds(idsOf(appended))
        expect(new Set(order).size).toBe(60)
        expect(onA.ids()).toEqual(order)
        expect(onB.ids()).toEqual(order)
        expect(idsOf((await a.read(stream, null)).events)).toEqual(order)
        expect(idsOf((await b.read(stream, null)).events)).toEqual(order)
        expect(onB.events.map((event) => event.dataJson)).toEqual(onA.events.map((event) => event.dataJson))
      })

      it('tells the id before each event appended concurrently by two brokers', async () => {
        const a = await make()
        const b = await peer(a)
        const stream = fresh()
        const appended = await Promise.all(
          Array.from({ length: 40 }, (_, n) => (n % 2 === 0 ? a : b).append(taskCreated(stream, n))),
        )
        const log = idsOf((await a.read(stream, null)).events)
        for (const event of appended) {
          const before = log.indexOf(event.id) - 1
          if (event.previousId !== undefined) expect(event.previousId).toBe(before < 0 ? null : log[before])
        }
      })

      it('replays on one broker what another appended', async () => {
        const a = await make()
        const b = await peer(a)
        const stream = fresh()
        const events = await appendMany(a, stream, 6)
        expect(await b.read(stream, events[2]!.id)).toEqual({ events: events.slice(3), expired: false })
        const heard = new Recorder()
        const stop = await b.subscribe(stream, events[2]!.id, heard)
        const next = await append(a, taskCreated(stream, 7))
        await heard.count(4)
        stop()
        expect(heard.events).toEqual([...events.slice(3), next])
      })

      it('shares claims between brokers', async () => {
        const a = await make()
        const b = await peer(a)
        const key = fresh('claim')
        expect(await a.claim(key, 'on-a', 10_000)).toBe('on-a')
        expect(await b.claim(key, 'on-b', 10_000)).toBe('on-a')
        expect(await b.lookup(key)).toBe('on-a')
        expect(await b.renew(key, 'on-b', 10_000)).toBe(false)
        expect(await b.renew(key, 'on-a', 0)).toBe(true)
        expect(await a.lookup(key)).toBeNull()
      })

      it('carries a notification from one broker to a listener on another', async () => {
        const a = await make()
        const b = await peer(a)
        const channel = fresh('channel')
        const inbox = new Inbox()
        const stop = await b.listen(channel, inbox.listener)
        expect(await a.notify(channel, 'cancel')).toBeGreaterThanOrEqual(1)
        await inbox.count(1)
        stop()
        expect(inbox.messages).toEqual(['cancel'])
      })

      it('loads on one broker a checkpoint saved on another', async () => {
        const a = await make()
        const b = await peer(a)
        const stream = fresh()
        const events = await appendMany(a, stream, 2)
        const checkpoint = checkpointAt(stream, events[1]!.id, 2)
        await a.saveCheckpoint(stream, checkpoint)
        expect(await b.loadCheckpoint(stream)).toEqual(checkpoint)
      })
    })

    it('rejects every call once closed', async () => {
      const broker = await subject.make({ maxEvents: 10 })
      await broker.close()
      const stream = fresh()
      const calls: [string, () => Promise<unknown>][] = [
        ['append', () => broker.append(taskCreated(stream, 1))],
        ['read', () => broker.read(stream, null)],
        ['subscribe', () => broker.subscribe(stream, null, new Recorder())],
        ['loadCheckpoint', () => broker.loadCheckpoint(stream)],
        ['saveCheckpoint', () => broker.saveCheckpoint(stream, checkpointAt(stream, '1', 1))],
        ['claim', () => broker.claim(stream, 'v', 1000)],
        ['lookup', () => broker.lookup(stream)],
        ['renew', () => broker.renew(stream, 'v', 1000)],
        ['notify', () => broker.notify(stream, 'm')],
        ['listen', () => broker.listen(stream, () => {})],
      ]
      for (const [method, call] of calls) {
        const error = await call().then(
          () => undefined,
          (caught: unknown) => caught,
        )
        expect(isTaskwireError(error), `${method} after close`).toBe(true)
      }
    })
  })
}
