/**
 * `npm run start:cluster`: the playground as two processes behind one port, sharing every
 * stream through Redis. Kill either process while a run streams: the page reconnects through
 * the balancer to the other one and resumes from its last event, and the killed process is
 * started again a second later.
 *
 *   PORT=3000 (default)   the balancer's port, on 127.0.0.1
 *   REDIS_URL             default redis://127.0.0.1:6379; it must answer
 *   DATABASE_URL          PostgreSQL for the job example, shared by both processes
 */
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { createServer, connect as tcpConnect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createClient } from 'redis'

const port = Number(process.env.PORT ?? 3000)
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const main = fileURLToPath(new URL('./main.ts', import.meta.url))
const RESTART_MS = 1000

// Fail early and plainly when Redis is not there: two processes cannot share streams without it.
const probe = createClient({ url: redisUrl, socket: { connectTimeout: 2000, reconnectStrategy: false } })
probe.on('error', () => {})
try {
  await probe.connect()
  await probe.ping()
  await probe.quit()
} catch {
  console.error(`start:cluster needs Redis: nothing answered at ${redisUrl}. Start one, or set REDIS_URL.`)
  process.exit(1)
}
if (!process.env.DATABASE_URL)
  console.log(
    'DATABASE_URL is not set: each process keeps its own jobs (PGlite), so the job example is per process.',
  )

/** One playground process: its port once it listens, and the child while it runs. */
interface Member {
  readonly name: string
  child?: ChildProcess | undefined
  port?: number | undefined
}
const members: Member[] = [{ name: 'A' }, { name: 'B' }]
let stopping = false

function start(member: Member): void {
  const child = fork(main, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, PORT: '0', REDIS_URL: redisUrl, PLAYGROUND_PROCESS: member.name },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  member.child = child
  child.on('message', (message: { listening?: string }) => {
    if (message.listening) member.port = Number(message.listening)
  })
  child.once('exit', (code, signal) => {
    member.child = undefined
    member.port = undefined
    if (stopping) return
    console.log(
      `process ${member.name} (pid ${child.pid}) ended (${signal ?? code}); starting it again in ${RESTART_MS / 1000} s`,
    )
    setTimeout(() => start(member), RESTART_MS)
  })
}

// Each new connection goes to the next live process; a connection whose process dies is cut,
// as a real load balancer's would be, and the client reconnects to the other one.
let next = 0
const balancer = createServer((socket) => {
  const live = members.filter((member) => member.port !== undefined)
  const member = live[next++ % Math.max(live.length, 1)]
  if (!member?.port) return socket.destroy()
  const upstream = tcpConnect(member.port, '127.0.0.1')
  socket.pipe(upstream).pipe(socket)
  const cut = (): void => {
    socket.destroy()
    upstream.destroy()
  }
  socket.on('error', cut).on('close', cut)
  upstream.on('error', cut).on('close', cut)
})

for (const member of members) start(member)
// Wait for both to listen before taking connections.
for (let waited = 0; members.some((member) => member.port === undefined); waited += 100) {
  if (waited > 60_000) throw new Error('the playground processes did not start within a minute')
  await new Promise((resolve) => setTimeout(resolve, 100))
}
balancer.listen(port, '127.0.0.1')
await once(balancer, 'listening')
const address = balancer.address()
const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`
console.log(`taskwire playground cluster on ${origin}: ${members
  .map((member) => `process ${member.name} pid ${member.child?.pid}`)
  .join(', ')} (Redis at ${redisUrl})
Start a workflow run on ${origin}/, then kill a process (kill <pid>) and watch the run go on.`)
process.send?.({ listening: new URL(origin).port })

const stop = (): void => {
  stopping = true
  balancer.close()
  for (const member of members) member.child?.kill('SIGTERM')
  setTimeout(() => process.exit(0), 2000).unref()
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
