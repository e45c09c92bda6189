import { afterEach, describe, expect, it } from 'vitest'
import { compareEventIds, type Envelope, isTaskwireError } from '../../src/core/index.js'
import type { Broker, UnsequencedEvent } from '../../src/server/index.js'

/** What the contract asks of the factory: a replay log bounded to `maxEvents` per stream. */
export interface BrokerContractOptions {
  /** Most events the broker keeps per stream; the expiry tests append several times more. */
  maxEvents: number
}

const TS = '2026-11-21T10:00:00.000Z'

const taskCreated = (stream: string, n: number): UnsequencedEvent => ({
  type: 'task.created',
  stream,
  ts: TS,
  data: { taskId: `t${n}` },
})

/** Resolves with the first `count` events a new listener of `stream` receives. */
function collect(
  broker: Broker,
  stream: string,
  count: number,
): { events: Envelope[]; done: Promise<Envelope[]> } {
  const events: Envelope[] = []
  let stop = (): void => {}
  const done = new Promise<Envelope[]>((resolve) => {
    stop = broker.subscribe(stream, (event) => {
      events.push(event)
      if (events.length === count) {
        stop()
        resolve(events)
      }
    })
  })
  return { events, done }
}

async function appendMany(broker: Broker, stream: string, count: number): Promise<Envelope[]> {
  const out: Envelope[] = []
  for (let n = 1; n <= count; n++) out.push(await broker.append(taskCreated(stream, n)))
  return out
}

/**
 * Registers the tests every {@link Broker} must pass: the in-memory broker runs them in
 * `memory-broker.test.ts`, a Redis broker in its own suite. Each test uses fresh stream
 * names, so a broker on a shared server can run them as they are.
 *
 * @param name - the broker's name in the test titles
 * @param makeBroker - creates a broker whose logs keep `maxEvents` events per stream
 */
export function brokerContract(
  name: string,
  makeBroker: (options: BrokerContractOptions) => Promise<Broker>,
): void {
  describe(`${name} (broker contract)`, () => {
    const brokers: Broker[] = []
    const make = async (options: BrokerContractOptions = { maxEvents: 100 }): Promise<Broker> => {
      const broker = await makeBroker(options)
      brokers.push(broker)
      return broker
    }
    let counter = 0
    const fresh = (): string => `contract-${Date.now()}-${process.pid}-${++counter}`

    afterEach(async () => {
      for (const broker of brokers.splice(0)) await broker.close()
    })

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
        })
        expect(typeof event.id).toBe('string')
        const previous = events[index - 1]
        if (previous) expect(compareEventIds(event.id, previous.id)).toBeGreaterThan(0)
      }
    })

    it('gives concurrent appends distinct ids, announced in id order', async () => {
      const broker = await make()
      const stream = fresh()
      const heard = collect(broker, stream, 30)
      const appended = await Promise.all(
        Array.from({ length: 30 }, (_, n) => broker.append(taskCreated(stream, n))),
      )
      const received = await heard.done
      expect(new Set(appended.map((event) => event.id)).size).toBe(30)
      for (let i = 1; i < received.length; i++) {
        expect(compareEventIds(received[i]!.id, received[i - 1]!.id)).toBeGreaterThan(0)
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

    it('marks a cursor older than the retained log as expired', async () => {
      const broker = await make({ maxEvents: 5 })
      const stream = fresh()
      const events = await appendMany(broker, stream, 20)
      const read = await broker.read(stream, events[1]!.id)
      expect(read.expired).toBe(true)
      const fromStart = await broker.read(stream, null)
      expect(fromStart.expired).toBe(true)
      const recent = await broker.read(stream, events[17]!.id)
      expect(recent).toEqual({ events: events.slice(18), expired: false })
    })

    it('marks a cursor the stream never issued as expired', async () => {
      const broker = await make()
      const stream = fresh()
      await appendMany(broker, stream, 3)
      expect((await broker.read(stream, 'not-an-id')).expired).toBe(true)
      expect((await broker.read(fresh(), '12')).expired).toBe(true)
    })

    it('folds every appended event into the state, trimmed ones included', async () => {
      const broker = await make({ maxEvents: 3 })
      const stream = fresh()
      const events = await appendMany(broker, stream, 10)
      await broker.append({ type: 'run.completed', stream, ts: TS, data: {} })
      const state = await broker.state(stream)
      expect(state.tasks.map((task) => task.id)).toEqual(events.map((_, n) => `t${n + 1}`))
      expect(state.status).toBe('completed')
      expect(state.stream).toBe(stream)
      const last = (await broker.read(stream, events[9]!.id)).events[0]
      expect(state.lastEventId).toBe(last?.id)
    })

    it('gives an unknown stream the initial state', async () => {
      const broker = await make()
      const state = await broker.state(fresh())
      expect(state.status).toBe('idle')
      expect(state.lastEventId).toBeNull()
      expect(state.tasks).toEqual([])
    })

    it('tells listeners of later events in order, and only of their stream', async () => {
      const broker = await make()
      const stream = fresh()
      await appendMany(broker, stream, 2)
      const first = collect(broker, stream, 5)
      const second = collect(broker, stream, 5)
      await appendMany(broker, fresh(), 2)
      const appended = await appendMany(broker, stream, 5)
      expect(await first.done).toEqual(appended)
      expect(await second.done).toEqual(appended)
    })

    it('stops telling a listener once it unsubscribes', async () => {
      const broker = await make()
      const stream = fresh()
      const gone: Envelope[] = []
      const unsubscribe = broker.subscribe(stream, (event) => gone.push(event))
      const staying = collect(broker, stream, 2)
      await broker.append(taskCreated(stream, 1))
      unsubscribe()
      unsubscribe()
      await broker.append(taskCreated(stream, 2))
      await staying.done
      expect(gone.map((event) => event.data)).toEqual([{ taskId: 't1' }])
    })

    it('refuses appends once closed', async () => {
      const broker = await makeBroker({ maxEvents: 10 })
      await broker.close()
      const error = await broker.append(taskCreated(fresh(), 1)).then(
        () => undefined,
        (caught: unknown) => caught,
      )
      expect(isTaskwireError(error)).toBe(true)
    })
  })
}
