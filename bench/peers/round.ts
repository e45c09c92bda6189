import { fileURLToPath } from 'node:url'
import { type Child, spawnChild } from './child.js'
import type { ClientsCommand, ClientsMessage, ServerCommand, ServerMessage } from './protocol.js'
import { eventsPerSubscriber, type Scenario } from './scenarios.js'
import { percentile } from './stats.js'
import type { VariantName } from './variants.js'

/** What one round of one variant in one scenario measured. */
export interface RoundResult {
  /** Deliveries per second, from 'go' until every client had every event. */
  eventsPerSecond: number
  /** Server CPU (user + system) per delivery, in µs. */
  cpuMicrosPerEvent: number
  /** Publish-to-receive latency of the sampled connections, in ms (NaN without sampling). */
  p50: number
  p99: number
  /** Server memory added per idle connection, after a full GC, in bytes. */
  rssPerConnection: number
  heapPerConnection: number
}

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url))
const CLIENTS = fileURLToPath(new URL('./clients.mjs', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Node flags for the server process, from BENCH_SERVER_FLAGS (`--cpu-prof --cpu-prof-dir=prof`). */
const serverFlags = process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? []

/**
 * Runs one round: a server process for the variant, a load-generator process, the plan
 * published twice, as a warm-up and then measured. Both processes are ended however the round ends.
 *
 * @param variant - the variant
 * @param scenario - the workload
 * @param pinned - whether to pin the server to core 0 and the clients to core 1
 * @returns the round's measurements
 */
export async function runRound(
  variant: VariantName,
  scenario: Scenario,
  pinned: boolean,
): Promise<RoundResult> {
  const { plan } = scenario
  const label = `${variant} ${scenario.key}`
  const server: Child<ServerCommand, ServerMessage> = spawnChild(
    `${label} server`,
    [...serverFlags, '--expose-gc', '--import', 'tsx', SERVER, variant, JSON.stringify(plan)],
    pinned ? 0 : undefined,
    ROOT,
  )
  let clients: Child<ClientsCommand, ClientsMessage> | undefined
  try {
    const { port, memory: before } = await server.next('listening')
    const events = eventsPerSubscriber(plan)
    clients = spawnChild(
      `${label} clients`,
      [
        CLIENTS,
        `http://127.0.0.1:${port}`,
        String(plan.streams),
        String(plan.perStream),
        String(events),
        scenario.latency ? '1' : '0',
      ],
      pinned ? 1 : undefined,
      ROOT,
    )
    await clients.next('ready')
    server.send({ kind: 'settle' })
    const { memory: idle } = await server.next('settled')

    server.send({ kind: 'go', warmUp: true })
    await clients.next('done')
    const done = clients.next('done')
    server.send({ kind: 'go', warmUp: false })
    const started = performance.now()
    const { latencies } = await done
    const ms = performance.now() - started
    server.send({ kind: 'stop' })
    const { micros } = await server.next('cpu')

    const connections = plan.streams * plan.perStream
    const deliveries = connections * events
    return {
      eventsPerSecond: deliveries / (ms / 1000),
      cpuMicrosPerEvent: micros / deliveries,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      rssPerConnection: (idle.rss - before.rss) / connections,
      heapPerConnection: (idle.heapUsed - before.heapUsed) / connections,
    }
  } finally {
    await clients?.close()
    await server.close()
  }
}
