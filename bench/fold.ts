/**
 * Fold benchmark: what one event costs a server that keeps a stream's run state, as the run
 * grows. The same events go through `createRunFold` (indexed, in place), through the pure
 * `reduceRun` as the memory broker called it (`state = reduceRun(state, event)`), and
 * through the copying reducer `reduceRun` was before the fold (kept as the test model),
 * measured in the same run. Results are ratios: the cost of an event in a run holding
 * 20,000 tasks over its cost in a fresh run should be about 1x for the fold.
 *
 * Run: npx tsx bench/fold.ts [--events 5000 --tasks 20000 --batch 40000 --rounds 3 --full]
 */
import { parseArgs } from 'node:util'
import { createRunFold, type Envelope, initialRunState, type RunState, reduceRun } from '../src/core/index.js'
// Not exported by the package: the reducer before the fold, the peer that shows what changed.
import { referenceReduceRun } from '../test/core/reduce-run.reference.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000' },
    tasks: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '40000' },
    rounds: { type: 'string', default: '3' },
    full: { type: 'boolean', default: false },
  },
})
const EVENTS = Number(values.events)
const TASKS = Number(values.tasks)
const BATCH = Number(values.batch)
const ROUNDS = Number(values.rounds)
const FULL = values.full

const BASE_MS = Date.parse('2026-01-01T00:00:00.000Z')
let nextId = 0

/** Numbers events as a hub does; timestamps one millisecond apart. */
function event(type: string, data: unknown): Envelope {
  nextId += 1
  return { type, stream: 'job', id: String(nextId), ts: new Date(BASE_MS + nextId).toISOString(), data }
}

/** `count` new tasks, as a producer announcing a large batch sends them. */
function taskBatch(count: number, prefix: string): Envelope[] {
  return Array.from({ length: count }, (_, i) =>
    event('task.created', { taskId: `${prefix}${i}`, title: `T${i}` }),
  )
}

/**
 * A live run's traffic: a new task now and then, progress on recent tasks, agents and nodes
 * reporting. About one event in four creates a task.
 */
function traffic(count: number, prefix: string): Envelope[] {
  const events: Envelope[] = []
  let created = 0
  for (let i = 0; i < count; i++) {
    switch (i % 4) {
      case 0:
        events.push(event('task.created', { taskId: `${prefix}${created++}` }))
        break
      case 1:
        events.push(
          event('task.progress', { taskId: `${prefix}${Math.max(0, created - 3)}`, percent: i % 100 }),
        )
        break
      case 2:
        events.push(event('agent.progress', { role: `agent-${i % 20}`, message: `step ${i}` }))
        break
      default:
        events.push(event('node.progress', { nodeId: `node-${i % 50}`, percent: i % 100 }))
    }
  }
  return events
}

/** A way to keep a stream's state: start from a state, fold events one by one. */
interface Peer {
  name: string
  run: (start: RunState, events: readonly Envelope[]) => RunState
}

const reducerPeer = (name: string, reduce: (state: RunState, e: Envelope) => RunState): Peer => ({
  name,
  run(start, events) {
    let state = start
    for (const e of events) state = reduce(state, e)
    return state
  },
})

const peers: Peer[] = [
  {
    name: 'createRunFold',
    run(start, events) {
      const fold = createRunFold(start)
      for (const e of events) fold.apply(e)
      return fold.state
    },
  },
  reducerPeer('reduceRun (pure)', reduceRun),
  reducerPeer('reducer before the fold', referenceReduceRun),
]

/** A fold that has already taken `count` tasks, as the broker's would: its index is built. */
function grownFold(count: number) {
  const fold = createRunFold()
  for (const e of taskBatch(count, 'old-')) fold.apply(e)
  return fold
}

/** Microseconds per event for one peer folding `events` from `start`. */
function measure(peer: Peer, start: RunState, events: readonly Envelope[]): number {
  const began = performance.now()
  const end = peer.run(start, events)
  const ms = performance.now() - began
  if (end.lastEventId !== events.at(-1)?.id) throw new Error(`${peer.name} missed events`)
  return (ms * 1000) / events.length
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

// Warm up every peer so the first one measured does not pay for the JIT.
for (const peer of peers) peer.run(initialRunState, traffic(2000, 'warm-'))

interface Result {
  fresh: number
  grown: number
  /** µs per event in a batch of BATCH / 4 tasks. */
  quarterBatch: number
  /** Total ms for BATCH tasks, measured, or estimated from the quarter batch when `estimated`. */
  batchMs: number
  estimated: boolean
}
const results = new Map<string, Result>()
for (const peer of peers) {
  const fresh: number[] = []
  const grown: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    fresh.push(measure(peer, initialRunState, traffic(EVENTS, `r${round}-`)))
    // The fold continues from its own grown state (its index built, as the broker's would
    // be); the reducers from that state's value.
    const big = grownFold(TASKS)
    const events = traffic(EVENTS, `r${round}-`)
    if (peer.name === 'createRunFold') {
      const began = performance.now()
      for (const e of events) big.apply(e)
      grown.push(((performance.now() - began) * 1000) / events.length)
    } else {
      grown.push(measure(peer, big.state, events))
    }
  }
  const quarterBatch = measure(peer, initialRunState, taskBatch(BATCH / 4, 'q-'))
  // A copying reducer's batch costs O(n²): a full batch takes minutes on a loaded machine, so
  // it is estimated from the quarter batch (x16) unless --full asks for it.
  const measured = peer.name === 'createRunFold' || FULL
  const batchMs = measured
    ? (measure(peer, initialRunState, taskBatch(BATCH, 'b-')) * BATCH) / 1000
    : (quarterBatch * (BATCH / 4) * 16) / 1000
  results.set(peer.name, {
    fresh: median(fresh),
    grown: median(grown),
    quarterBatch,
    batchMs,
    estimated: !measured,
  })
}

// The price of reading: the hub materializes `state` for each new subscriber. Reading it after
// every event is the worst case: each read after a task changed copies the task array.
const readEvery = (() => {
  const big = grownFold(TASKS)
  const events = traffic(EVENTS, 'read-')
  const began = performance.now()
  for (const e of events) {
    big.apply(e)
    void big.state
  }
  return ((performance.now() - began) * 1000) / events.length
})()

const n = (x: number) => x.toLocaleString('en-US')
const us = (x: number) => x.toFixed(2)
const quarter = BATCH / 4
console.log(
  `fold: ${n(EVENTS)} events into a fresh run and into a run of ${n(TASKS)} tasks (median of ${ROUNDS}); ` +
    `batches of ${n(quarter)} and ${n(BATCH)} new tasks (node ${process.version})`,
)
console.log(
  `| implementation | µs/event fresh | µs/event at ${n(TASKS)} tasks | at ${n(TASKS)} / fresh | ${n(quarter)}-task batch, ms | ${n(BATCH)}-task batch, ms |`,
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
for (const [name, r] of results) {
  console.log(
    `| ${name} | ${us(r.fresh)} | ${us(r.grown)} | ${(r.grown / r.fresh).toFixed(1)}x | ` +
      `${((r.quarterBatch * quarter) / 1000).toFixed(0)} | ${r.estimated ? '≈ ' : ''}${r.batchMs.toFixed(0)} |`,
  )
}
const fold = results.get('createRunFold')
const pure = results.get('reduceRun (pure)')
if (fold && pure) {
  console.log(
    `\ncost per event at ${n(TASKS)} tasks / cost per event fresh: ` +
      `${(fold.grown / fold.fresh).toFixed(1)}x (fold) vs ${(pure.grown / pure.fresh).toFixed(1)}x (reduceRun)`,
  )
  console.log(
    `${n(BATCH)}-task batch: fold ${fold.batchMs.toFixed(0)} ms, reduceRun ${pure.estimated ? '≈ ' : ''}` +
      `${pure.batchMs.toFixed(0)} ms${pure.estimated ? ' (estimated x16 from the quarter batch; --full measures it)' : ''}`,
  )
}
console.log(
  `fold at ${n(TASKS)} tasks with its state read after every event: ${us(readEvery)} µs/event ` +
    '(each read after a change copies what changed; the hub reads once per new subscriber)',
)
