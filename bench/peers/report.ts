import type { Machine } from './machine.js'
import type { RoundResult } from './round.js'
import type { Scenario } from './scenarios.js'
import { median, spread } from './stats.js'
import type { VariantName } from './variants.js'

/** Every round's result, by scenario key and variant (NaN fields for a failed round). */
export type Results = Map<Scenario['key'], Map<VariantName, RoundResult[]>>

/** What a report is made of. */
export interface ReportInput {
  machine: Machine
  rounds: number
  scenarios: Scenario[]
  variants: readonly VariantName[]
  results: Results
  failures: string[]
}

type Metric = keyof RoundResult

/**
 * Writes the report: one table per scenario, the latency and memory tables, and one line
 * per target. Ratios compare variants measured in the same run; targets are printed, not
 * enforced.
 *
 * @param input - the machine, the scenarios and every round's results
 * @returns Markdown
 */
export function formatReport(input: ReportInput): string {
  const { machine, rounds, scenarios, variants, results } = input
  const value = (key: Scenario['key'], variant: VariantName, metric: Metric) =>
    median((results.get(key)?.get(variant) ?? []).map((round) => round[metric]))
  const ratio = (key: Scenario['key'], variant: VariantName, base: VariantName, metric: Metric) =>
    value(key, variant, metric) / value(key, base, metric)

  const lines: string[] = [
    `Machine: ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}; ${
      machine.pinned
        ? 'server pinned to core 0 and load generator to core 1 (taskset)'
        : 'no pinning (needs taskset and 2 cores)'
    }. Median of ${rounds} round${rounds === 1 ? '' : 's'}, variants interleaved round by round.`,
    '',
  ]

  for (const scenario of scenarios) {
    const { key, baseline } = scenario
    lines.push(`**${key}, ${scenario.title}**`, '')
    if (scenario.latency) {
      lines.push(
        `| variant | p50 ms | p99 ms | p99 − ${baseline} p99 | CPU µs/event | CPU vs ${baseline} |`,
        '| --- | ---: | ---: | ---: | ---: | ---: |',
      )
      for (const variant of variants) {
        const p99 = value(key, variant, 'p99')
        lines.push(
          row(
            variant,
            fixed(value(key, variant, 'p50'), 1),
            fixed(p99, 1),
            signed(p99 - value(key, baseline, 'p99')),
            fixed(value(key, variant, 'cpuMicrosPerEvent'), 2),
            times(ratio(key, variant, baseline, 'cpuMicrosPerEvent')),
          ),
        )
      }
    } else {
      lines.push(
        `| variant | events/s | vs ${baseline} | CPU µs/event | CPU vs ${baseline} | spread of events/s |`,
        '| --- | ---: | ---: | ---: | ---: | ---: |',
      )
      for (const variant of variants) {
        const rates = (results.get(key)?.get(variant) ?? []).map((round) => round.eventsPerSecond)
        lines.push(
          row(
            variant,
            whole(value(key, variant, 'eventsPerSecond')),
            times(ratio(key, variant, baseline, 'eventsPerSecond')),
            fixed(value(key, variant, 'cpuMicrosPerEvent'), 2),
            times(ratio(key, variant, baseline, 'cpuMicrosPerEvent')),
            rates.length < 2 ? '—' : `${fixed(spread(rates) * 100, 0)}%`,
          ),
        )
      }
    }
    lines.push('')
  }

  if (results.has('B')) {
    lines.push(
      '**Idle memory per connection** (from B, after a full GC, server process)',
      '',
      '| variant | heap bytes/connection | vs reference-batched | RSS bytes/connection | vs reference-batched |',
      '| --- | ---: | ---: | ---: | ---: |',
    )
    for (const variant of variants) {
      lines.push(
        row(
          variant,
          whole(value('B', variant, 'heapPerConnection')),
          times(ratio('B', variant, 'reference-batched', 'heapPerConnection')),
          whole(value('B', variant, 'rssPerConnection')),
          times(ratio('B', variant, 'reference-batched', 'rssPerConnection')),
        ),
      )
    }
    lines.push('')
  }

  lines.push('**taskwire against its targets**', '', ...targets(results, value, ratio), '')
  if (input.failures.length > 0) lines.push('Failed rounds:', '', ...input.failures.map((f) => `- ${f}`), '')
  return lines.join('\n')
}

function targets(
  results: Results,
  value: (key: Scenario['key'], variant: VariantName, metric: Metric) => number,
  ratio: (key: Scenario['key'], variant: VariantName, base: VariantName, metric: Metric) => number,
): string[] {
  const lines: string[] = []
  // A missing measurement (a failed round, a variant left out) gets no verdict.
  const line = (label: string, shown: string, met: boolean, target: string) =>
    lines.push(`- ${label}: ${shown} (target ${target})${met || shown.startsWith('n/a') ? '' : ': not met'}`)
  const tw = 'taskwire'
  const ref = 'reference-batched'
  for (const key of ['A', 'B'] as const) {
    if (!results.has(key)) continue
    const rate = ratio(key, tw, ref, 'eventsPerSecond')
    line(`events/s ${key}`, fixed(rate, 2), rate >= 0.9, '≥ 0.9')
  }
  for (const key of ['A', 'B'] as const) {
    if (!results.has(key)) continue
    const cpu = ratio(key, tw, ref, 'cpuMicrosPerEvent')
    line(`CPU/event ${key}`, fixed(cpu, 2), cpu <= 1.1, '≤ 1.1')
  }
  if (results.has('C')) {
    const rate = ratio('C', tw, 'reference-plain', 'eventsPerSecond')
    line('events/s C vs reference-plain', fixed(rate, 2), rate >= 0.9, '≥ 0.9')
  }
  if (results.has('D')) {
    const delta = value('D', tw, 'p99') - value('D', ref, 'p99')
    line('p99 D − reference p99', `${signed(delta)} ms`, delta <= 5, '≤ +5 ms')
  }
  if (results.has('B')) {
    const heap = ratio('B', tw, ref, 'heapPerConnection')
    line('memory/connection (heap)', fixed(heap, 2), heap <= 1.2, '≤ 1.2')
    const rss = ratio('B', tw, ref, 'rssPerConnection')
    line('memory/connection (RSS)', fixed(rss, 2), rss <= 1.2, '≤ 1.2')
  }
  return lines
}

const row = (...cells: string[]) => `| ${cells.join(' | ')} |`
const valid = (x: number) => Number.isFinite(x)
const fixed = (x: number, digits: number) => (valid(x) ? x.toFixed(digits) : 'n/a')
const whole = (x: number) => (valid(x) ? Math.round(x).toLocaleString('en-US') : 'n/a')
const times = (x: number) => (valid(x) ? `${x.toFixed(2)}x` : 'n/a')
const signed = (x: number) => (valid(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}` : 'n/a')
