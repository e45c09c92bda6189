/**
 * Decode benchmark: how fast the client reads a recorded stream. A stream of taskwire
 * envelopes (named framing, `<epoch>-<seq>` ids, task/agent/node payloads, a heartbeat
 * comment now and then) is encoded to UTF-8, cut into 64 KiB chunks and decoded with
 * `TextDecoder` as a transport would, then read by eventsource-parser alone (counting its
 * events), by the decoder before issue 8 (kept in test/) and by `createSseDecoder`, each with
 * the client's default `maxEventChars`. Results are events per second, median of the rounds,
 * and the ratio of each decoder to eventsource-parser alone, measured in the same run.
 *
 * Run: npx tsx bench/decode.ts [--events 100000 --rounds 5 --chunk 65536 --crlf]
 */
import { parseArgs } from 'node:util'
import { createParser } from 'eventsource-parser'
import type { SseDecoder, SseDecoderCallbacks, SseDecoderOptions } from '../src/client/sse-decoder.js'
import { createSseDecoder } from '../src/client/sse-decoder.js'
import { encodeEvent } from '../src/core/index.js'
// Not exported by the package: the decoder before issue 8, the peer that shows what changed.
import { referenceSseDecoder } from '../test/client/sse-decoder.reference.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    chunk: { type: 'string', default: '65536' },
    crlf: { type: 'boolean', default: false },
  },
})
const EVENTS = Number(values.events)
const ROUNDS = Number(values.rounds)
const CHUNK_BYTES = Number(values.chunk)
const CRLF = values.crlf

const EPOCH = 1796186620721
const BASE_MS = Date.parse('2026-12-01T09:00:00.000Z')
const ROLES = ['tech-lead', 'researcher', 'coder', 'reviewer', 'tester']
const NOTES = [
  'Fetching sources',
  'Parsing 1,204 rows from orders.csv',
  'Waiting for the rate limiter',
  'Résumé extraction — page 3 of 12',
  'Tests passed ✓',
]

/** The payload of the `seq`th event: a live run's mix of task, agent and node traffic. */
function payload(seq: number): [string, unknown] {
  const task = `task-${Math.floor(seq / 8)}`
  const role = ROLES[seq % ROLES.length] ?? 'coder'
  const note = NOTES[seq % NOTES.length] ?? ''
  switch (seq % 8) {
    case 0:
      return [
        'task.created',
        {
          taskId: task,
          title: `Summarize chapter ${seq % 40}`,
          status: 'pending',
          meta: { priority: seq % 3 },
        },
      ]
    case 1:
      return ['task.status', { taskId: task, status: 'running' }]
    case 2:
    case 3:
      return ['task.progress', { taskId: task, note, percent: seq % 100 }]
    case 4:
      return [
        'agent.progress',
        {
          role,
          taskId: task,
          message: `${note}: read ${seq % 97} of 97 documents, ${seq % 13} citations kept so far`,
          percent: seq % 100,
        },
      ]
    case 5:
      return ['node.progress', { nodeId: `node-${seq % 50}`, percent: seq % 100, message: note }]
    case 6:
      return [
        'agent.completed',
        { role, taskId: task, durationMs: 1000 + (seq % 9000), hasArtifacts: seq % 2 === 0 },
      ]
    default:
      return ['task.completed', { taskId: task, note: 'Done', durationMs: 12_500 + seq, outputs: seq % 4 }]
  }
}

/** The recorded stream: `count` envelopes as the hub frames them, a heartbeat every 500. */
function recordStream(count: number): string {
  const frames: string[] = []
  for (let seq = 1; seq <= count; seq++) {
    const [type, data] = payload(seq)
    const ts = new Date(BASE_MS + seq * 7).toISOString()
    frames.push(encodeEvent({ type, stream: 'run-2f6c1a', id: `${EPOCH}-${seq}`, ts, data }))
    if (seq % 500 === 0) frames.push(': hb\n\n')
  }
  const text = frames.join('')
  return CRLF ? text.replaceAll('\n', '\r\n') : text
}

/** The stream as a transport hands it over: UTF-8 chunks decoded one by one. */
function chunked(text: string, bytes: number): string[] {
  const encoded = new TextEncoder().encode(text)
  const decoder = new TextDecoder()
  const chunks: string[] = []
  for (let at = 0; at < encoded.length; at += bytes) {
    chunks.push(decoder.decode(encoded.subarray(at, at + bytes), { stream: true }))
  }
  return chunks
}

/** A reader of the stream; `read` returns how many events it dispatched. */
interface Peer {
  name: string
  read: (chunks: readonly string[]) => number
}

const CLIENT_OPTIONS: SseDecoderOptions = { maxEventChars: 4 * 1024 * 1024 }

const decoderPeer = (
  name: string,
  create: (callbacks: SseDecoderCallbacks, options: SseDecoderOptions) => SseDecoder,
): Peer => ({
  name,
  read(chunks) {
    let events = 0
    let ids = 0
    const decoder = create(
      {
        onEvent: () => {
          events++
        },
        onId: () => {
          ids++
        },
        onOverflow: (chars) => {
          throw new Error(`${name} overflowed at ${chars} characters`)
        },
      },
      CLIENT_OPTIONS,
    )
    for (const chunk of chunks) decoder.feed(chunk)
    return events + ids
  },
})

const peers: Peer[] = [
  {
    name: 'eventsource-parser alone',
    read(chunks) {
      let events = 0
      const parser = createParser({
        onEvent: () => {
          events++
        },
      })
      for (const chunk of chunks) parser.feed(chunk)
      return events
    },
  },
  decoderPeer('decoder before issue 8', referenceSseDecoder),
  decoderPeer('createSseDecoder', createSseDecoder),
]

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

const chunks = chunked(recordStream(EVENTS), CHUNK_BYTES)
const warm = chunked(recordStream(5000), CHUNK_BYTES)
for (const peer of peers) for (let i = 0; i < 3; i++) peer.read(warm)

// Rounds alternate between peers so that drift in the machine's speed hits all of them.
const rates = new Map<string, number[]>(peers.map((peer) => [peer.name, []]))
for (let round = 0; round < ROUNDS; round++) {
  for (const peer of peers) {
    const began = performance.now()
    const read = peer.read(chunks)
    const ms = performance.now() - began
    // A CRLF stream ends its chunks with a CR now and then; eventsource-parser alone still
    // reads every event, only later.
    if (read !== EVENTS) throw new Error(`${peer.name} read ${read} events of ${EVENTS}`)
    rates.get(peer.name)?.push((EVENTS * 1000) / ms)
  }
}

const n = (x: number) => Math.round(x).toLocaleString('en-US')
const base = median(rates.get('eventsource-parser alone') ?? [])
console.log(
  `decode: ${n(EVENTS)} envelopes${CRLF ? ' (CRLF)' : ''}, ${chunks.length} chunks of ${n(CHUNK_BYTES)} bytes, ` +
    `median of ${ROUNDS} (node ${process.version})`,
)
console.log('| reader | events/s | / eventsource-parser alone |')
console.log('| --- | ---: | ---: |')
for (const [name, xs] of rates) {
  const rate = median(xs)
  console.log(`| ${name} | ${n(rate)} | ${(rate / base).toFixed(2)}x |`)
}
