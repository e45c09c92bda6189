/**
 * `npm start`: the five example applications and their dashboard on one port.
 *
 *   PORT=3000 (default)   the port, on 127.0.0.1
 *   REDIS_URL             use the Redis broker instead of the in-memory one
 *   REDIS_PREFIX          put before every Redis key (default taskwire-example:)
 *   DATABASE_URL          keep the job example's data in PostgreSQL instead of embedded PGlite
 *   PACE=1                scale the simulated work (0.5 runs twice as fast)
 */
import { type Playground, startPlayground } from './playground.js'

const port = Number(process.env.PORT ?? 3000)
const pace = Number(process.env.PACE ?? 1)
if (!Number.isInteger(port) || port < 0 || port > 65_535)
  throw new Error(`PORT must be a port number, got ${process.env.PORT}`)
if (!(pace >= 0)) throw new Error(`PACE must be a number of 0 or more, got ${process.env.PACE}`)
const processName = process.env.PLAYGROUND_PROCESS
const prefix = processName ? `[${processName}] ` : ''
const say = (line: string): void => console.log(`${prefix}${line}`)

say('building the pages…')
let playground: Playground
try {
  playground = await startPlayground({
    port,
    pace,
    redisUrl: process.env.REDIS_URL || undefined,
    redisPrefix: process.env.REDIS_PREFIX || undefined,
    databaseUrl: process.env.DATABASE_URL || undefined,
    processName,
    log: say,
    onBuild: (event) => {
      if ('modules' in event) {
        if (process.stdout.isTTY && event.modules % 25 === 0)
          process.stdout.write(`\r${prefix}building the pages: ${event.modules} modules`)
      } else if ('done' in event) {
        if (process.stdout.isTTY) process.stdout.write('\r\x1b[K')
        say(
          `pages built in ${event.done.ms} ms (${Math.round(event.done.js.byteLength / 1024)} KB of script)`,
        )
      } else say(`the pages failed to build: ${event.failed.message}`)
    },
  })
} catch (error) {
  console.error(`${prefix}could not start: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}

const { origin } = playground
say(
  `taskwire playground on ${origin} (${process.env.REDIS_URL ? 'Redis broker' : 'in-memory broker'}, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`,
)
process.send?.({ listening: new URL(origin).port })
if (!processName)
  say(`open ${origin}/ for the dashboard, or try:
  curl -N ${origin}/api/workflows/demo/events
  curl -X POST ${origin}/api/workflows/demo/execute
  curl -N -X POST ${origin}/api/v1/executions/stream -H 'content-type: application/json' -d '{"flowId":"demo","inputData":{}}'
Ctrl-C stops it.`)

let closing = false
const stop = (): void => {
  if (closing) return
  closing = true
  void playground.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
