/**
 * `npm start`: a real node:http server streams a simulated agent run, one event a second,
 * and a client in the same process prints each event and the state it folds them into.
 * It exits after the run; `--serve` keeps the server up for curl or a browser.
 *
 *   npm start
 *   npm start -- --serve [--port=3000] [--step-ms=250]
 */
import { parseArgs } from 'node:util'
import type { EventOf, RunState } from '../../src/core/index.js'
import type { Hub } from '../../src/server/index.js'
import { startDemo } from './demo.js'

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    port: { type: 'string', default: '0' },
    'step-ms': { type: 'string', default: '1000' },
  },
})

/** One line per event: its id, its type and the fields a reader cares about. */
function describeEvent(event: EventOf<Hub['catalog']>): string {
  const { id, type, data } = event
  const fields =
    type === 'stream.snapshot' || type === 'stream.reset'
      ? `status=${data.state.status}`
      : Object.entries(data)
          .map(
            ([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
          )
          .join(' ')
  return `  #${id.padEnd(3)} ${type.padEnd(16)} ${fields}`
}

/** A few lines that show what the reducer made of the run. */
function describeState(state: RunState): string {
  const lines = [`run ${state.stream}: ${state.status} in ${state.durationMs ?? '?'} ms`]
  for (const task of state.tasks)
    lines.push(`  task ${task.id} "${task.title}": ${task.status} (${task.note})`)
  for (const role of state.agentOrder) {
    const agent = state.agents[role]
    if (agent) lines.push(`  agent ${role}: ${agent.status}, ${agent.durationMs} ms`)
  }
  lines.push(`  output: ${JSON.stringify(state.output)}`)
  return lines.join('\n')
}

const demo = await startDemo({
  stepMs: Number(values['step-ms']),
  port: Number(values.port),
  onEvent: (event) => console.log(describeEvent(event)),
  onStatus: (status) => console.log(`client: ${status}`),
})
console.log(`taskwire demo on ${demo.origin}; watching ${demo.origin}/runs/${demo.execution.stream}/events\n`)

const state = await demo.finished
console.log(`\n${describeState(state)}`)

if (values.serve) {
  console.log(`\nServing until Ctrl-C. Try:
  curl -N ${demo.origin}/runs/${demo.execution.stream}/events     (replays the finished run)
  curl -X POST ${demo.origin}/runs                        (starts another run)
  curl -N ${demo.origin}/runs/run-2/events                (watches it live)`)
  process.once('SIGINT', () => void demo.close())
  process.once('SIGTERM', () => void demo.close())
} else {
  await demo.close()
}
