import type { Plan } from './protocol.js'
import type { VariantName } from './variants.js'

/** The sizes of the scenarios, each settable from the command line. */
export interface Sizes {
  /** Subscribers of the one stream of A and C. */
  subscribers: number
  /** Events to each subscriber in A and C. */
  events: number
  /** Events published per turn in A. */
  burst: number
  /** Streams in B and D. */
  streams: number
  /** Subscribers per stream in B and D. */
  perStream: number
  /** Turns in B, one event to every stream in each. */
  turns: number
  /** Length of D in seconds, one event to every stream every `intervalMs`. */
  seconds: number
  /** D's pace. */
  intervalMs: number
  /** The quiet time before the idle memory reading. */
  settleMs: number
}

/** The sizes of a full run. */
export const FULL_SIZES: Readonly<Sizes> = {
  subscribers: 1000,
  events: 200,
  burst: 10,
  streams: 200,
  perStream: 10,
  // 100 rather than 20 events per stream: at 20 a round lasts 0.3 s and its rate varied by half.
  turns: 100,
  seconds: 3,
  intervalMs: 100,
  settleMs: 200,
}

/** The sizes of `--quick`, a smoke test. */
export const QUICK_SIZES: Readonly<Sizes> = {
  subscribers: 200,
  events: 100,
  burst: 10,
  streams: 50,
  perStream: 4,
  turns: 10,
  seconds: 1,
  intervalMs: 100,
  settleMs: 50,
}

/** One workload, run once per variant and round. */
export interface Scenario {
  key: 'A' | 'B' | 'C' | 'D'
  title: string
  plan: Plan
  /** Whether the clients sample latencies. */
  latency: boolean
  /** The variant taskwire is compared with. */
  baseline: VariantName
}

/**
 * The four scenarios at the given sizes.
 *
 * @param sizes - the sizes
 * @returns A (one stream, bursts), B (many streams), C (one publish per turn), D (latency)
 */
export function scenarios(sizes: Sizes): Scenario[] {
  const { subscribers, events, burst, streams, perStream, turns, settleMs } = sizes
  const ticks = Math.round((sizes.seconds * 1000) / sizes.intervalMs)
  const one = { streams: 1, perStream: subscribers, settleMs }
  const many = { streams, perStream, settleMs }
  return [
    {
      key: 'A',
      title: `one stream: ${n(subscribers)} subscribers, ${n(events)} events, ${burst} per turn`,
      plan: { ...one, perTurn: burst, turns: Math.ceil(events / burst), intervalMs: null },
      latency: false,
      baseline: 'reference-batched',
    },
    {
      key: 'B',
      title: `many streams: ${n(streams * perStream)} subscribers over ${n(streams)} streams, ${turns} events per stream, one per stream per turn`,
      plan: { ...many, perTurn: 1, turns, intervalMs: null },
      latency: false,
      baseline: 'reference-batched',
    },
    {
      key: 'C',
      title: `one per turn: ${n(subscribers)} subscribers, ${n(events)} events, one publish per turn`,
      plan: { ...one, perTurn: 1, turns: events, intervalMs: null },
      latency: false,
      baseline: 'reference-plain',
    },
    {
      key: 'D',
      title: `latency: B's shape paced, one event per stream every ${sizes.intervalMs} ms (${n((streams * 1000) / sizes.intervalMs)} events/s published) for ${sizes.seconds} s`,
      plan: { ...many, perTurn: 1, turns: ticks, intervalMs: sizes.intervalMs },
      latency: true,
      baseline: 'reference-batched',
    },
  ]
}

/**
 * Events each subscriber of a scenario receives.
 *
 * @param plan - the scenario's plan
 * @returns the count
 */
export const eventsPerSubscriber = (plan: Plan): number => plan.perTurn * plan.turns

const n = (value: number) => value.toLocaleString('en-US')
