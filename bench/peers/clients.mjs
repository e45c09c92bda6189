// The load generator of one round: `node clients.mjs <base url> <streams> <per stream>
// <events> <sample>`, with an IPC channel. It opens `per stream` SSE connections to each
// stream `/s/s<k>`, counts the `data:` lines each receives, and reports 'ready' once every
// connection has its headers and 'done' each time every one has `events` more events (the
// server publishes the plan more than once, waiting for 'done' in between). With `sample`
// set, the first connection of each stream also reads the publish time each event carries
// (`t=<epoch ms>;`) and reports the latencies. Plain JavaScript, so it starts fast and
// stays cheap next to the server it measures.
import { Agent, request } from 'node:http'

const [base, streamsArg, perStreamArg, eventsArg, sampleArg] = process.argv.slice(2)
const streams = Number(streamsArg)
const perStream = Number(perStreamArg)
const events = Number(eventsArg)
const sample = sampleArg === '1'
const total = streams * perStream
// Connections opening at once; more would overflow the server's accept backlog.
const OPENING = 200
const DATA = Buffer.from('data:')
const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })
let opened = 0
let connected = 0
// How many connections have completed each publication of the plan, by its number.
const finished = []
let latencies = []

const fail = (message) => {
  process.send?.({ kind: 'error', message })
}

/** Counts `data:` in a chunk, and across its border with the previous chunk's last bytes. */
function countData(tail, chunk) {
  let count = 0
  for (let at = chunk.indexOf(DATA); at !== -1; at = chunk.indexOf(DATA, at + DATA.length)) count++
  // Both sides hold fewer bytes than `data:`, so any match here spans the border.
  if (tail.length > 0) {
    const border = Buffer.concat([tail, chunk.subarray(0, DATA.length - 1)])
    if (border.indexOf(DATA) !== -1) count++
  }
  return count
}

/** Reads the publish times in a sampled connection's text; returns the unread rest. */
function readTimes(text, now) {
  let at = text.indexOf('t=')
  while (at !== -1) {
    const end = text.indexOf(';', at)
    if (end === -1) return text.slice(at)
    const t = Number(text.slice(at + 2, end))
    if (Number.isFinite(t)) latencies.push(now - t)
    at = text.indexOf('t=', end)
  }
  return text.slice(-1)
}

function open(stream, sampled) {
  let received = 0
  let completed = 0
  let tail = Buffer.alloc(0)
  let unread = ''
  const req = request(`${base}/s/s${stream}`, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) return fail(`stream s${stream} answered ${res.statusCode}`)
    if (++connected === total) process.send?.({ kind: 'ready' })
    openNext()
    res.on('data', (chunk) => {
      received += countData(tail, chunk)
      tail = (chunk.length >= DATA.length - 1 ? chunk : Buffer.concat([tail, chunk])).subarray(
        -(DATA.length - 1),
      )
      if (sampled)
        unread = readTimes(unread + chunk.toString('latin1'), performance.timeOrigin + performance.now())
      while (received >= (completed + 1) * events) {
        finished[completed] = (finished[completed] ?? 0) + 1
        if (finished[completed] === total) {
          process.send?.({ kind: 'done', latencies })
          latencies = []
        }
        completed++
      }
    })
    res.on('close', () => {
      if (received % events !== 0) fail(`stream s${stream} closed after ${received} events`)
    })
  })
  req.on('error', (error) => fail(`stream s${stream}: ${error.message}`))
  req.end()
}

function openNext() {
  if (opened >= total) return
  const index = opened++
  open(index % streams, sample && index < streams)
}

for (let i = 0; i < Math.min(OPENING, total); i++) openNext()

process.on('message', (message) => {
  if (message?.kind === 'exit') process.exit(0)
})
process.on('disconnect', () => process.exit(0))
