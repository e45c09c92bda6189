/**
 * The server process of one round: `node --expose-gc --import tsx server.ts <variant> <plan>`,
 * with an IPC channel. It listens, reports its memory before and after the clients connect,
 * publishes the plan on each 'go' (a warm-up first, so the measured run finds its code
 * compiled, as a long-running server would), and reports the CPU time spent between the
 * measured 'go' and 'stop'.
 */
import type { AddressInfo } from 'node:net'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import { progressPayload } from './payload.js'
import type { Memory, Plan, ServerCommand, ServerMessage } from './protocol.js'
import { createVariant, isVariantName } from './variants.js'

const send = (message: ServerMessage) => process.send?.(message)
const fail = (error: unknown) => send({ kind: 'error', message: String(error) })
process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)
// The orchestrator is gone: nothing is left to report to.
process.on('disconnect', () => process.exit(0))

const [name = '', planJson = '{}'] = process.argv.slice(2)
if (!isVariantName(name)) throw new Error(`unknown variant ${name}`)
const plan = JSON.parse(planJson) as Plan
const variant = await createVariant(name)

function memory(): Memory {
  globalThis.gc?.()
  const { rss, heapUsed } = process.memoryUsage()
  return { rss, heapUsed }
}

async function publishPlan(paced: boolean): Promise<void> {
  const started = performance.now()
  let i = 0
  for (let turn = 0; turn < plan.turns; turn++) {
    if (paced && plan.intervalMs !== null) {
      const wait = started + turn * plan.intervalMs - performance.now()
      if (wait > 0) await sleep(wait)
    }
    for (let s = 0; s < plan.streams; s++) {
      for (let k = 0; k < plan.perTurn; k++) variant.publish(`s${s}`, progressPayload(i++))
    }
    if (!paced || plan.intervalMs === null) await nextTurn()
  }
}

let cpuAtGo: NodeJS.CpuUsage | undefined
process.on('message', (command: ServerCommand) => {
  switch (command.kind) {
    case 'settle':
      void sleep(plan.settleMs).then(() => send({ kind: 'settled', memory: memory() }))
      break
    case 'go':
      if (!command.warmUp) cpuAtGo = process.cpuUsage()
      publishPlan(!command.warmUp).catch(fail)
      break
    case 'stop': {
      const { user, system } = process.cpuUsage(cpuAtGo)
      send({ kind: 'cpu', micros: user + system })
      break
    }
    case 'exit':
      process.exit(0)
  }
})

const before = memory()
variant.server.listen(0, '127.0.0.1', () => {
  const { port } = variant.server.address() as AddressInfo
  send({ kind: 'listening', port, memory: before })
})
