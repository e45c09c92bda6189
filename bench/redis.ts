/**
 * Redis broker benchmark, two measurements in one run:
 *
 * 1. Cross-process delivery: a child process publishes task.progress events at a steady rate
 *    over many streams through a hub on a Redis broker; this process follows every stream
 *    through its own hub on the same prefix, one subscriber per stream, and measures the
 *    delivered rate and the publish-to-receive latency (each event carries its send time).
 *    The same schedule then runs through raw Redis PUBLISH/SUBSCRIBE, the floor any Redis
 *    transport has on this machine, so a missed target can be told from a busy machine.
 * 2. Fan-out: one stream, many SSE clients over real node:http sockets (clients in a separate
 *    process, as in fanout.ts), once on the memory broker and once on the Redis broker;
 *    reported as the ratio Redis/memory, measured in the same run.
 *
 * Results are information, not pass/fail: the targets are printed beside what was measured.
 * Each run uses a fresh key prefix and deletes its keys at the end.
 *
 * Run: npx tsx bench/redis.ts [--seconds 10 --warmup 1 --rate 2000 --streams 100
 *      --clients 1000 --events 2000 --rounds 3 --burst 50] [--only delivery|fanout] [--quick]
 *      [--dump <path prefix>] [--no-checkpoints]
 */
import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createClient } from 'redis'
import { formatEvent } from '../src/core/index.js'
import { createRedisBroker, type RedisBroker } from '../src/redis/index.js'
import { type AnyHub, createHub, type SubscriberSink, serveNode } from '../src/server/index.js'
import { forkSseClients } from './sse-clients-process.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    rate: { type: 'string' },
    streams: { type: 'string' },
    clients: { type: 'string' },
    events: { type: 'string' },
    rounds: { type: 'string' },
    burst: { type: 'string' },
    quick: { type: 'boolean', default: false },
    // 'delivery' or 'fanout': run one measurement only.
    only: { type: 'string' },
    // Writes each event's send time and latency of measurement 1 as CSV, one file per transport.
    dump: { type: 'string' },
    // Diagnostic: see countCalls.
    'no-checkpoints': { type: 'boolean', default: false },
    // Internal: the forked publisher of measurement 1, its key prefix and its transport.
    role: { type: 'string' },
    prefix: { type: 'string' },
    transport: { type: 'string' },
  },
})
const QUICK = values.quick
const SECONDS = Number(values.seconds ?? (QUICK ? '2' : '10'))
const WARMUP = Number(values.warmup ?? (QUICK ? '0.5' : '1'))
const RATE = Number(values.rate ?? '2000')
const STREAMS = Number(values.streams ?? '100')
const CLIENTS = Number(values.clients ?? (QUICK ? '200' : '1000'))
const EVENTS = Number(values.events ?? (QUICK ? '500' : '2000'))
const ROUNDS = Number(values.rounds ?? (QUICK ? '1' : '3'))
const BURST = Number(values.burst ?? '50')
const ONLY = values.only
const NO_CHECKPOINTS = values['no-checkpoints']
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const P99_TARGET_MS = 10
const RATIO_TARGET = 0.7

for (const [name, value] of Object.entries({
  SECONDS,
  WARMUP,
  RATE,
  STREAMS,
  CLIENTS,
  EVENTS,
  ROUNDS,
  BURST,
})) {
  const mayBeZero = name === 'WARMUP' || name === 'ROUNDS'
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !mayBeZero)) {
    throw new Error(`--${name.toLowerCase()} must be a positive number, got ${value}`)
  }
}
if (ONLY !== undefined && ONLY !== 'delivery' && ONLY !== 'fanout') {
  throw new Error(`--only takes delivery or fanout, got ${ONLY}`)
}

/** How measurement 1 carries events: taskwire hubs on a Redis broker, or raw Redis pub/sub. */
type Transport = 'hub' | 'pubsub'

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
const epochNow = (): number => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a')
const ms2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a')
const streamName = (i: number) => `s${i}`

/** A plain client for the bench's own commands; fails at once when Redis does not answer. */
async function connectRedis() {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 5000, reconnectStrategy: false } })
  client.on('error', () => {})
  await client.connect()
  return client
}

type StatsClient = Awaited<ReturnType<typeof connectRedis>>
const channelName = (prefix: string, i: number) => `${prefix}b:${streamName(i)}`

interface Percentiles {
  p50: number
  p99: number
  max: number
}

const NO_PERCENTILES: Percentiles = { p50: Number.NaN, p99: Number.NaN, max: Number.NaN }

const percentiles = (samples: Float64Array): Percentiles => {
  const sorted = samples.slice().sort()
  const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  return { p50: pick(0.5), p99: pick(0.99), max: sorted[sorted.length - 1] ?? Number.NaN }
}

const showPercentiles = ({ p50, p99, max }: Percentiles) => `${ms2(p50)} / ${ms2(p99)} / ${ms2(max)} ms`

/** Starts sampling the event loop's delay; the returned function stops it and reads it in ms. */
const loopDelayMonitor = (): (() => Percentiles) => {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  return () => {
    histogram.disable()
    const ms = (ns: number) => ns / 1e6
    return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) }
  }
}

/** The 1, 5 and 15 minute load averages: other work on the machine skews every number here. */
const loadAverage = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' / ')

/** The broker methods a hub calls for its periodic checkpoints. */
const CHECKPOINT_WORK = new Set(['read', 'saveCheckpoint', 'loadCheckpoint'])

/** Calls a hub made to its broker, by method: how many, and their summed time to settle. */
type BrokerCalls = Record<string, { calls: number; ms: number }>

/**
 * Wraps a broker to count the calls its hub makes (checkpoints and catch-up reads besides the
 * appends and subscriptions). With `--no-checkpoints`, a diagnostic, once `reset()` opens the
 * measured window it answers the hub's periodic checkpoint work itself (saves resolve at once,
 * catch-up reads find nothing new, which holds here: each fold is current), to show what that
 * work costs the latency. No application should run that way.
 */
function countCalls<B extends object>(
  broker: B,
): { broker: B; calls: BrokerCalls; reset: () => void; checkpointing: () => boolean } {
  let calls: BrokerCalls = {}
  let stub = false
  // Checkpoint work (a catch-up read, then a save) in flight, to tag the events it may delay.
  let checkpointWork = 0
  const stubs: Record<string, () => Promise<unknown>> = {
    saveCheckpoint: () => Promise.resolve(),
    read: () => Promise.resolve({ events: [], expired: false }),
  }
  const wrapped = new Proxy(broker, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target)
      if (typeof value !== 'function' || typeof property !== 'string') return value
      const answer = stubs[property]
      if (stub && answer) return answer
      return (...args: unknown[]) => {
        const startedAt = performance.now()
        const count = calls[property] ?? { calls: 0, ms: 0 }
        calls[property] = count
        count.calls++
        const result: unknown = value.apply(target, args)
        if (result instanceof Promise) {
          const tracked = CHECKPOINT_WORK.has(property)
          if (tracked) checkpointWork++
          const settle = () => {
            count.ms += performance.now() - startedAt
            if (tracked) checkpointWork--
          }
          result.then(settle, settle)
        }
        return result
      }
    },
  })
  return {
    broker: wrapped,
    get calls() {
      return calls
    },
    reset: () => {
      calls = {}
      stub = NO_CHECKPOINTS
    },
    checkpointing: () => checkpointWork > 0,
  }
}

/** Messages from the publisher child of measurement 1. */
type PublisherMessage =
  | { kind: 'ready' }
  | { kind: 'measuring' }
  | { kind: 'pong'; id: number; at: number }
  | {
      kind: 'done'
      sent: number
      settled: number
      errors: number
      firstError: string | undefined
      startedAt: number
      publishMs: number
      maxInFlight: number
      maxBehind: number
      /** Publish call to its promise settling (validation, append round trip), ms. */
      append: Percentiles
      /** The publisher's event-loop delay, ms. */
      loopDelay: Percentiles
      /** CPU time the publisher spent per event published, µs. */
      cpuUsPerEvent: number
      /** The calls its hub made to the broker. */
      brokerCalls: BrokerCalls
    }

/** Messages to the publisher child. */
type ParentMessage = { kind: 'ping'; id: number } | { kind: 'start' }

// ---------------------------------------------------------------------------------------------
// Measurement 1, publisher side (a forked child running this file with --role publisher).

async function runPublisher(prefix: string, transport: Transport): Promise<void> {
  const send = (message: PublisherMessage) => process.send?.(message)
  let publishOne: (i: number, note: string) => Promise<unknown>
  let close: () => Promise<void>
  let counted: ReturnType<typeof countCalls<RedisBroker>> | undefined
  if (transport === 'hub') {
    const broker = await createRedisBroker({ url: REDIS_URL, prefix })
    counted = countCalls(broker)
    const hub = createHub({ broker: counted.broker, heartbeatMs: false })
    publishOne = (i, note) =>
      hub.publish(streamName(i % STREAMS), 'task.progress', { taskId: 'work', note, percent: i % 101 })
    close = async () => {
      await hub.close()
      await broker.close()
    }
  } else {
    const client = await connectRedis()
    publishOne = (i, note) => client.publish(channelName(prefix, i % STREAMS), note)
    close = () => client.close()
  }
  const started = new Promise<void>((resolve) => {
    process.on('message', (message: ParentMessage) => {
      if (message.kind === 'ping') send({ kind: 'pong', id: message.id, at: epochNow() })
      else if (message.kind === 'start') resolve()
    })
  })
  send({ kind: 'ready' })
  await started

  // Warm-up events (their note starts with `w`) run the same code paths before the measured
  // window, so the JIT and the first connections' costs stay out of the percentiles.
  const warmup = Math.round(RATE * WARMUP)
  const total = warmup + Math.round(RATE * SECONDS)
  // Bounded in time: a publisher that cannot keep up stops at the deadline with what it sent.
  const deadlineMs = (WARMUP + SECONDS) * 1000 + 2000
  const appendMs = new Float64Array(total - warmup)
  let next = 0
  let inFlight = 0
  let sent = 0
  let settled = 0
  let errors = 0
  let firstError: string | undefined
  let maxInFlight = 0
  let maxBehind = 0
  let window: { startedAt: number; t: number; cpu: NodeJS.CpuUsage; stopDelay: () => Percentiles } | undefined
  const t0 = performance.now()
  while (next < total && performance.now() - t0 < deadlineMs) {
    // Drift-free: the count due follows from the elapsed time, whatever each tick's length.
    const due = Math.min(total, Math.floor(((performance.now() - t0) * RATE) / 1000))
    if (window) maxBehind = Math.max(maxBehind, due - next)
    while (next < due) {
      const i = next++
      if (i === warmup) {
        send({ kind: 'measuring' })
        counted?.reset()
        const cpu = process.cpuUsage()
        window = { startedAt: epochNow(), t: performance.now(), cpu, stopDelay: loopDelayMonitor() }
      }
      const measured = i >= warmup
      if (measured) sent++
      inFlight++
      const calledAt = performance.now()
      // The note tags warm-up events (w), and those sent while this hub's checkpoint work was
      // in flight (c), ahead of the send time.
      const tag = !measured ? 'w' : counted?.checkpointing() ? 'c' : ''
      publishOne(i, `${tag}${epochNow()}`).then(
        () => {
          inFlight--
          if (measured) appendMs[settled++] = performance.now() - calledAt
        },
        (error: unknown) => {
          inFlight--
          errors++
          firstError ??= String(error)
        },
      )
    }
    if (window) maxInFlight = Math.max(maxInFlight, inFlight)
    await sleep(1)
  }
  const publishMs = window ? performance.now() - window.t : Number.NaN
  for (let i = 0; i < 1000 && inFlight > 0; i++) await sleep(10)
  const { user, system } = window ? process.cpuUsage(window.cpu) : { user: 0, system: 0 }
  send({
    kind: 'done',
    sent,
    settled,
    errors,
    firstError,
    startedAt: window?.startedAt ?? Number.NaN,
    publishMs,
    maxInFlight,
    maxBehind,
    append: percentiles(appendMs.subarray(0, settled)),
    loopDelay: window ? window.stopDelay() : NO_PERCENTILES,
    cpuUsPerEvent: (user + system) / Math.max(1, sent),
    brokerCalls: counted?.calls ?? {},
  })
  await close()
  process.disconnect()
}

// ---------------------------------------------------------------------------------------------
// Measurement 1, subscriber side (this process).

interface DeliveryResult {
  sent: number
  received: number
  errors: number
  firstError: string | undefined
  publishRate: number
  deliveredRate: number
  latency: Percentiles
  /** Events with checkpoint work in flight in either hub (publisher at send, subscriber at receipt). */
  duringCheckpoints: { count: number; latency: Percentiles }
  /** The other events. */
  clearOfCheckpoints: { count: number; latency: Percentiles }
  offsetUs: number
  rttUs: number
  maxInFlight: number
  maxBehind: number
  append: Percentiles
  publisherLoopDelay: Percentiles
  subscriberLoopDelay: Percentiles
  publisherCpuUs: number
  subscriberCpuUs: number
  load: string
  redis: RedisStats
  publisherCalls: BrokerCalls
  subscriberCalls: BrokerCalls
}

const splitByCheckpoints = (
  latencies: Float64Array,
  during: Uint8Array,
): Pick<DeliveryResult, 'duringCheckpoints' | 'clearOfCheckpoints'> => {
  const inside = latencies.filter((_, i) => during[i] === 1)
  const outside = latencies.filter((_, i) => during[i] !== 1)
  return {
    duringCheckpoints: { count: inside.length, latency: percentiles(inside) },
    clearOfCheckpoints: { count: outside.length, latency: percentiles(outside) },
  }
}

/** What Redis spent, from INFO: calls and microseconds per command, and its CPU seconds. */
interface RedisStats {
  commands: Map<string, { calls: number; usec: number }>
  cpuSeconds: number
}

async function redisStats(client: StatsClient): Promise<RedisStats> {
  const commands = new Map<string, { calls: number; usec: number }>()
  const info = await client.info('commandstats')
  for (const match of info.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
    commands.set(match[1] ?? '', { calls: Number(match[2]), usec: Number(match[3]) })
  }
  const cpu = await client.info('cpu')
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? Number.NaN)
  return { commands, cpuSeconds: field('used_cpu_user') + field('used_cpu_sys') }
}

const redisDelta = (before: RedisStats, after: RedisStats): RedisStats => {
  const commands = new Map<string, { calls: number; usec: number }>()
  for (const [name, { calls, usec }] of after.commands) {
    const was = before.commands.get(name) ?? { calls: 0, usec: 0 }
    if (calls > was.calls) commands.set(name, { calls: calls - was.calls, usec: usec - was.usec })
  }
  return { commands, cpuSeconds: after.cpuSeconds - before.cpuSeconds }
}

/** Waits for the child's first message of a kind, or fails after `ms`. */
function nextMessage<K extends PublisherMessage['kind']>(
  child: ChildProcess,
  kind: K,
  ms: number,
): Promise<Extract<PublisherMessage, { kind: K }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: PublisherMessage) => {
      if (message.kind !== kind) return
      cleanup()
      resolve(message as Extract<PublisherMessage, { kind: K }>)
    }
    const onExit = (code: number | null) => {
      cleanup()
      reject(new Error(`publisher exited (${String(code)}) before '${kind}'`))
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`publisher: no '${kind}' within ${ms} ms`))
    }, ms)
    const cleanup = () => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve()
    }, ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/**
 * Estimates the publisher's clock minus ours from the IPC round trip with the smallest delay,
 * to show that the two processes' timestamps are comparable (same system clock).
 */
async function clockOffset(child: ChildProcess): Promise<{ offsetUs: number; rttUs: number }> {
  let best = { offsetUs: Number.NaN, rttUs: Number.POSITIVE_INFINITY }
  for (let id = 0; id < 20; id++) {
    const before = epochNow()
    const pong = nextMessage(child, 'pong', 5000)
    child.send({ kind: 'ping', id } satisfies ParentMessage)
    const { at } = await pong
    const after = epochNow()
    const rttUs = (after - before) * 1000
    if (rttUs < best.rttUs) best = { offsetUs: (at - (before + after) / 2) * 1000, rttUs }
  }
  return best
}

/** Follows every stream of the run through a hub on a Redis broker, one subscriber each. */
async function followWithHub(
  prefix: string,
  record: (note: string, now: number) => void,
): Promise<{ counted: ReturnType<typeof countCalls<RedisBroker>>; close: () => Promise<void> }> {
  const broker = await createRedisBroker({ url: REDIS_URL, prefix })
  const counted = countCalls(broker)
  const hub = createHub({
    broker: counted.broker,
    heartbeatMs: false,
    maxConnections: 100_000,
    maxPerStream: 100_000,
  })
  const sink: SubscriberSink = {
    write(chunk) {
      const now = epochNow()
      // One write may hold several frames; each frame's data is one line of envelope JSON.
      let at = chunk.indexOf('data: ')
      while (at !== -1) {
        const end = chunk.indexOf('\n', at)
        const envelope = JSON.parse(chunk.slice(at + 6, end)) as { type: string; data: { note?: string } }
        if (envelope.type === 'task.progress') record(envelope.data.note ?? '', now)
        at = chunk.indexOf('data: ', end)
      }
    },
    bufferedBytes: () => 0,
    end: () => {},
  }
  try {
    for (let i = 0; i < STREAMS; i++) {
      const subscription = await hub.subscribe(streamName(i))
      if (!subscription) throw new Error(`stream ${streamName(i)} refused a subscriber`)
      subscription.start(sink)
    }
  } catch (error) {
    await hub.close()
    await broker.close()
    throw error
  }
  return {
    counted,
    close: async () => {
      await hub.close()
      await broker.close()
    },
  }
}

/** Follows every channel of the run with raw Redis SUBSCRIBE. */
async function followWithPubSub(
  prefix: string,
  record: (note: string, now: number) => void,
): Promise<{ close: () => Promise<void> }> {
  const client = await connectRedis()
  const channels = Array.from({ length: STREAMS }, (_, i) => channelName(prefix, i))
  await client.subscribe(channels, (message) => record(message, epochNow()))
  return { close: () => client.close() }
}

async function measureDelivery(prefix: string, transport: Transport): Promise<DeliveryResult> {
  const capacity = Math.round(RATE * SECONDS * 1.1) + 1000
  const latencies = new Float64Array(capacity)
  const sentAt = new Float64Array(capacity)
  let received = 0
  let lastReceivedAt = 0
  // 1 when checkpoint work was in flight in the publisher's hub at send or in ours at receipt.
  const duringCheckpoints = new Uint8Array(capacity)
  let checkpointing = () => false
  const record = (note: string, now: number) => {
    if (note.startsWith('w') || received >= capacity) return
    const tagged = note.startsWith('c')
    const at = Number(tagged ? note.slice(1) : note)
    duringCheckpoints[received] = tagged || checkpointing() ? 1 : 0
    sentAt[received] = at
    latencies[received++] = now - at
    lastReceivedAt = now
  }

  const stats: StatsClient = await connectRedis()
  let follower: { counted?: ReturnType<typeof countCalls<RedisBroker>>; close: () => Promise<void> }
  try {
    follower =
      transport === 'hub' ? await followWithHub(prefix, record) : await followWithPubSub(prefix, record)
  } catch (error) {
    await stats.close()
    throw error
  }
  const counted = follower.counted
  if (counted) checkpointing = () => counted.checkpointing()
  // Let the reader's first checked read go by, so its blocking read covers every stream.
  await sleep(200)

  const child = fork(fileURLToPath(import.meta.url), [
    '--role',
    'publisher',
    '--transport',
    transport,
    '--prefix',
    prefix,
    '--seconds',
    String(SECONDS),
    '--warmup',
    String(WARMUP),
    '--rate',
    String(RATE),
    '--streams',
    String(STREAMS),
    ...(NO_CHECKPOINTS ? ['--no-checkpoints'] : []),
  ])
  try {
    await nextMessage(child, 'ready', 30_000)
    const { offsetUs, rttUs } = await clockOffset(child)
    const measuring = nextMessage(child, 'measuring', WARMUP * 1000 + 30_000)
    const done = nextMessage(child, 'done', (WARMUP + SECONDS) * 1000 + 30_000)
    // Awaited below; this keeps an early failure from being reported as unhandled meanwhile.
    done.catch(() => undefined)
    child.send({ kind: 'start' } satisfies ParentMessage)
    await measuring
    follower.counted?.reset()
    const redisBefore = await redisStats(stats)
    const stopDelay = loopDelayMonitor()
    const cpu = process.cpuUsage()
    const report = await done
    // Bounded wait for the tail still in flight through Redis.
    for (let i = 0; i < 500 && received < report.settled; i++) await sleep(10)
    const { user, system } = process.cpuUsage(cpu)
    const subscriberLoopDelay = stopDelay()
    const redisAfter = await redisStats(stats)
    if (values.dump !== undefined) {
      const lines = ['sent_epoch_ms,latency_ms']
      for (let i = 0; i < received; i++) lines.push(`${sentAt[i]},${latencies[i]}`)
      writeFileSync(`${values.dump}${transport}.csv`, `${lines.join('\n')}\n`)
    }
    return {
      sent: report.sent,
      received,
      errors: report.errors,
      firstError: report.firstError,
      publishRate: report.sent / (report.publishMs / 1000),
      deliveredRate: received / ((lastReceivedAt - report.startedAt) / 1000),
      latency: percentiles(latencies.subarray(0, received)),
      ...splitByCheckpoints(latencies.subarray(0, received), duringCheckpoints),
      offsetUs,
      rttUs,
      maxInFlight: report.maxInFlight,
      maxBehind: report.maxBehind,
      append: report.append,
      publisherLoopDelay: report.loopDelay,
      subscriberLoopDelay,
      publisherCpuUs: report.cpuUsPerEvent,
      subscriberCpuUs: (user + system) / Math.max(1, received),
      load: loadAverage(),
      redis: redisDelta(redisBefore, redisAfter),
      publisherCalls: report.brokerCalls,
      subscriberCalls: follower.counted?.calls ?? {},
    }
  } finally {
    await waitExit(child, 15_000)
    await follower.close()
    await stats.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Measurement 2: fan-out to many SSE clients on one stream, memory broker vs Redis broker.

/** A realistic payload: its frame is about 256 bytes with a Redis-style id. */
const payload = (i: number) => ({
  role: 'tech-lead',
  message: `step ${i}: designing the ingestion service's queues`,
  percent: i % 101,
})

const frameBytes = Buffer.byteLength(
  formatEvent({
    id: '1700000000000-1000',
    event: 'agent.progress',
    data: JSON.stringify({
      type: 'agent.progress',
      stream: 'fanout-r0',
      id: '1700000000000-1000',
      ts: new Date().toISOString(),
      data: payload(1000),
    }),
  }),
)

interface FanOutVariant {
  name: 'memory' | 'redis'
  hub: AnyHub
  close: () => Promise<void>
}

async function memoryVariant(): Promise<FanOutVariant> {
  const hub = createHub({ heartbeatMs: false, maxConnections: 100_000, maxPerStream: 100_000 })
  return { name: 'memory', hub, close: () => hub.close() }
}

async function redisVariant(prefix: string): Promise<FanOutVariant> {
  const broker: RedisBroker = await createRedisBroker({ url: REDIS_URL, prefix })
  const hub = createHub({ broker, heartbeatMs: false, maxConnections: 100_000, maxPerStream: 100_000 })
  return {
    name: 'redis',
    hub,
    close: async () => {
      // The hub does not close a broker it was given.
      await hub.close()
      await broker.close()
    },
  }
}

async function fanOutRound(variant: FanOutVariant, stream: string): Promise<number> {
  const server: Server = createServer((req, res) => {
    void serveNode(variant.hub, req, res, { stream })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const { child, next } = forkSseClients(`http://127.0.0.1:${port}/`, CLIENTS, EVENTS, variant.name)
  let publishError: unknown
  try {
    await next('ready')
    // Let the last subscriptions go live before the clock starts.
    await sleep(200)
    const done = next('done')
    const started = performance.now()
    for (let i = 0; i < EVENTS; i += BURST) {
      for (let j = i; j < Math.min(i + BURST, EVENTS); j++) {
        variant.hub.publish(stream, 'agent.progress', payload(j)).catch((error: unknown) => {
          publishError ??= error
        })
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    await done
    const ms = performance.now() - started
    if (publishError !== undefined) throw publishError
    return ms
  } finally {
    child.send('exit')
    await waitExit(child, 10_000)
    await variant.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

// ---------------------------------------------------------------------------------------------

/** Deletes every key of the run's prefix (SCAN MATCH + DEL, bounded). */
async function deleteKeys(prefix: string): Promise<number> {
  const client = await connectRedis()
  let deleted = 0
  try {
    let cursor = '0'
    for (let i = 0; i < 10_000; i++) {
      const reply = await client.scan(cursor, { MATCH: `${prefix}*`, COUNT: 1000 })
      if (reply.keys.length > 0) deleted += await client.del(reply.keys)
      cursor = String(reply.cursor)
      if (cursor === '0') break
    }
  } finally {
    await client.close()
  }
  return deleted
}

async function redisPingUs(): Promise<number> {
  const client = await connectRedis()
  const samples: number[] = []
  try {
    for (let i = 0; i < 200; i++) {
      const t = performance.now()
      await client.ping()
      samples.push((performance.now() - t) * 1000)
    }
  } finally {
    await client.close()
  }
  return median(samples)
}

async function runDelivery(prefix: string): Promise<void> {
  const hub = await measureDelivery(prefix, 'hub')
  const floor = await measureDelivery(prefix, 'pubsub')
  const diagnostic = NO_CHECKPOINTS
    ? ' (diagnostic run: the hubs checkpoint saves and catch-up reads answered in-process, see --no-checkpoints)'
    : ''
  console.log(
    `cross-process delivery: a child process publishes ${fmt(RATE)} task.progress events/s over ${STREAMS} streams for ${SECONDS} s (after ${WARMUP} s of warm-up); this process follows each stream with one subscriber${diagnostic}`,
  )
  console.log('| measure | taskwire hubs, Redis broker | raw Redis PUBLISH/SUBSCRIBE (floor) |')
  console.log('| --- | ---: | ---: |')
  const row = (label: string, show: (d: DeliveryResult) => string) =>
    console.log(`| ${label} | ${show(hub)} | ${show(floor)} |`)
  row('events published', (d) => `${fmt(d.sent)} (${fmt(d.publishRate)}/s)`)
  row('events received', (d) => fmt(d.received))
  row('publish errors', (d) => fmt(d.errors))
  row('delivered events/s', (d) => fmt(d.deliveredRate))
  row('publish-to-receive latency p50', (d) => `${ms2(d.latency.p50)} ms`)
  row('publish-to-receive latency p99', (d) => `${ms2(d.latency.p99)} ms`)
  row('publish-to-receive latency max', (d) => `${ms2(d.latency.max)} ms`)
  const split = (d: DeliveryResult, part: DeliveryResult['duringCheckpoints']) =>
    d === floor ? 'n/a' : `${fmt(part.count)} events: ${showPercentiles(part.latency)}`
  row(
    'latency p50 / p99 / max, events with a hub checkpointing (publisher at send or subscriber at receipt)',
    (d) => split(d, d.duringCheckpoints),
  )
  row('latency p50 / p99 / max, the other events', (d) => split(d, d.clearOfCheckpoints))
  row('publisher: publish call to reply, p50 / p99 / max', (d) => showPercentiles(d.append))
  row('publisher: event-loop delay p50 / p99 / max', (d) => showPercentiles(d.publisherLoopDelay))
  row('subscriber: event-loop delay p50 / p99 / max', (d) => showPercentiles(d.subscriberLoopDelay))
  row(
    'CPU per event: publisher / subscriber',
    (d) => `${fmt(d.publisherCpuUs)} / ${fmt(d.subscriberCpuUs)} µs`,
  )
  row('Redis CPU per event', (d) => `${fmt((d.redis.cpuSeconds * 1e6) / Math.max(1, d.received))} µs`)
  row(
    'publisher: most publishes in flight / most behind schedule',
    (d) => `${d.maxInFlight} / ${d.maxBehind}`,
  )
  row(
    'clock offset between the processes (± ½ IPC round trip)',
    (d) => `${d.offsetUs.toFixed(0)} ± ${(d.rttUs / 2).toFixed(0)} µs`,
  )
  row('load average 1 / 5 / 15 min at the end', (d) => d.load)
  row(`target p99 < ${P99_TARGET_MS} ms`, (d) =>
    d.latency.p99 < P99_TARGET_MS && d.received === d.sent ? 'held' : 'missed',
  )
  for (const d of [hub, floor]) {
    if (d.firstError !== undefined) console.log(`first publish error: ${d.firstError}`)
  }
  console.log('')

  console.log(
    `Redis commands during the hubs' measured window (INFO commandstats: counts every client of this server, and the commands scripts run)`,
  )
  console.log('| command | calls | calls per event | µs per call | µs per event |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  const byCost = [...hub.redis.commands].sort((a, b) => b[1].usec - a[1].usec).slice(0, 10)
  for (const [name, { calls, usec }] of byCost) {
    console.log(
      `| ${name} | ${fmt(calls)} | ${(calls / hub.received).toFixed(2)} | ${(usec / calls).toFixed(1)} | ${(usec / hub.received).toFixed(1)} |`,
    )
  }
  console.log('')

  console.log(`broker calls made by each hub in the measured ${SECONDS} s: count, and mean time to settle`)
  console.log('| method | publisher calls | publisher mean ms | subscriber calls | subscriber mean ms |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  const methods = new Set([...Object.keys(hub.publisherCalls), ...Object.keys(hub.subscriberCalls)])
  for (const method of methods) {
    const p = hub.publisherCalls[method]
    const s = hub.subscriberCalls[method]
    const mean = (c: { calls: number; ms: number } | undefined) => (c ? ms2(c.ms / c.calls) : '')
    console.log(`| ${method} | ${fmt(p?.calls ?? 0)} | ${mean(p)} | ${fmt(s?.calls ?? 0)} | ${mean(s)} |`)
  }
  console.log('')
}

async function runFanOut(prefix: string): Promise<void> {
  const times = { memory: [] as number[], redis: [] as number[] }
  for (let round = 0; round < ROUNDS; round++) {
    const stream = `fanout-r${round}`
    for (const make of [memoryVariant, () => redisVariant(prefix)]) {
      const variant = await make()
      times[variant.name].push(await fanOutRound(variant, stream))
    }
  }
  const memoryMs = median(times.memory)
  console.log(
    `fan-out: ${fmt(CLIENTS)} SSE clients on one stream, ${fmt(EVENTS)} agent.progress events (frame ≈ ${frameBytes} B) in bursts of ${BURST}, median of ${ROUNDS} rounds`,
  )
  console.log('| broker | median ms | rounds ms | deliveries/s | vs memory |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const name of ['memory', 'redis'] as const) {
    const ms = median(times[name])
    console.log(
      `| ${name} | ${ms.toFixed(0)} | ${times[name].map((t) => t.toFixed(0)).join(', ')} | ${fmt((CLIENTS * EVENTS) / (ms / 1000))} | ${(memoryMs / ms).toFixed(2)}x |`,
    )
  }
  const ratio = memoryMs / median(times.redis)
  console.log(
    `| target redis ≥ ${RATIO_TARGET}x memory | | | | ${ratio >= RATIO_TARGET ? 'held' : 'missed'} |`,
  )
  console.log('')
}

async function main(): Promise<void> {
  const prefix = `taskwire-bench:${randomUUID().slice(0, 8)}:`
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU'
  // Every step below is bounded; this is the last resort should one of them hang anyway.
  const watchdog = setTimeout(
    () => {
      console.error('bench/redis: took too long; exiting')
      process.exit(1)
    },
    (2 * (WARMUP + SECONDS + 60) + ROUNDS * 2 * 130 + 60) * 1000,
  )
  watchdog.unref()
  let pingUs: number
  try {
    pingUs = await redisPingUs()
  } catch (error) {
    clearTimeout(watchdog)
    // As the Redis tests do: skipped with the reason, unless Redis is required.
    const required = process.env.TASKWIRE_REQUIRE_REDIS === '1'
    console.error(
      `bench/redis: ${required ? 'failed' : 'skipped'}: no Redis answers at ${REDIS_URL} (set REDIS_URL): ${String(error)}`,
    )
    if (required) process.exitCode = 1
    return
  }
  try {
    console.log(
      `machine: ${os.availableParallelism()} cores, ${cpu}, node ${process.version}; Redis at ${REDIS_URL}, PING round trip p50 ${pingUs.toFixed(0)} µs; load average ${loadAverage()}`,
    )
    console.log('')
    if (ONLY !== 'fanout') await runDelivery(prefix)
    if (ONLY !== 'delivery') await runFanOut(prefix)
  } finally {
    const deleted = await deleteKeys(prefix)
    console.log(`cleanup: deleted ${deleted} keys under ${prefix}`)
    clearTimeout(watchdog)
  }
}

if (values.role === 'publisher') {
  if (values.prefix === undefined) throw new Error('--role publisher needs --prefix')
  await runPublisher(values.prefix, values.transport === 'pubsub' ? 'pubsub' : 'hub')
} else {
  await main()
}
