/**
 * SSE fan-out against peers: taskwire's hub, two hand-written references, better-sse and
 * Hono's streamSSE, each in a server process of its own (pinned to core 0 when it can be),
 * loaded by a client process (core 1), in four scenarios. Reports ratios against the
 * references measured in the same run, as Markdown.
 *
 * Run: npx tsx bench/fanout-peers.ts [--quick] [--rounds 3] [--write]
 *   [--scenarios A,B,C,D] [--variants taskwire,reference-batched]
 *   [--subscribers 1000] [--events 200] [--burst 10] [--streams 200] [--per-stream 10]
 *   [--turns 20] [--seconds 3] [--interval-ms 100]
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { describeMachine } from './peers/machine.js'
import { formatReport, type Results } from './peers/report.js'
import { type RoundResult, runRound } from './peers/round.js'
import { FULL_SIZES, QUICK_SIZES, type Sizes, scenarios } from './peers/scenarios.js'
import { isVariantName, VARIANT_NAMES, type VariantName } from './peers/variants.js'
import { writeReport } from './peers/write-doc.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    scenarios: { type: 'string', default: 'A,B,C,D' },
    variants: { type: 'string', default: VARIANT_NAMES.join(',') },
    subscribers: { type: 'string' },
    events: { type: 'string' },
    burst: { type: 'string' },
    streams: { type: 'string' },
    'per-stream': { type: 'string' },
    turns: { type: 'string' },
    seconds: { type: 'string' },
    'interval-ms': { type: 'string' },
  },
})

const defaults = values.quick ? QUICK_SIZES : FULL_SIZES
const size = (flag: string | undefined, fallback: number) => {
  const parsed = flag === undefined ? fallback : Number(flag)
  if (!(parsed > 0)) throw new Error(`expected a positive number, got ${flag}`)
  return parsed
}
const sizes: Sizes = {
  subscribers: size(values.subscribers, defaults.subscribers),
  events: size(values.events, defaults.events),
  burst: size(values.burst, defaults.burst),
  streams: size(values.streams, defaults.streams),
  perStream: size(values['per-stream'], defaults.perStream),
  turns: size(values.turns, defaults.turns),
  seconds: size(values.seconds, defaults.seconds),
  intervalMs: size(values['interval-ms'], defaults.intervalMs),
  settleMs: defaults.settleMs,
}
const rounds = size(values.rounds, values.quick ? 1 : 3)
const wanted = new Set(values.scenarios.split(','))
const chosen = scenarios(sizes).filter((scenario) => wanted.has(scenario.key))
const variants = values.variants.split(',').filter(isVariantName)
const machine = describeMachine()

const failed: RoundResult = {
  eventsPerSecond: Number.NaN,
  cpuMicrosPerEvent: Number.NaN,
  p50: Number.NaN,
  p99: Number.NaN,
  rssPerConnection: Number.NaN,
  heapPerConnection: Number.NaN,
}
const results: Results = new Map()
const failures: string[] = []
const record = (key: string, variant: VariantName, result: RoundResult) => {
  const byVariant = results.get(key as 'A') ?? new Map<VariantName, RoundResult[]>()
  byVariant.set(variant, [...(byVariant.get(variant) ?? []), result])
  results.set(key as 'A', byVariant)
}

// Round by round, every variant in turn, so drift over the run weighs on all alike.
for (let round = 1; round <= rounds; round++) {
  for (const scenario of chosen) {
    for (const variant of variants) {
      process.stderr.write(`round ${round}/${rounds} ${scenario.key} ${variant}\n`)
      try {
        record(scenario.key, variant, await runRound(variant, scenario, machine.pinned))
      } catch (error) {
        failures.push(`round ${round}, ${scenario.key}, ${variant}: ${(error as Error).message}`)
        record(scenario.key, variant, failed)
      }
    }
  }
}

const report = formatReport({ machine, rounds, scenarios: chosen, variants, results, failures })
console.log(report)
if (values.write) {
  console.log(writeReport(fileURLToPath(new URL('../docs/performance.md', import.meta.url)), report))
}
process.exit(0)
