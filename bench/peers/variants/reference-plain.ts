/**
 * The hand-written endpoint with no batching: each event is serialized once and its frame
 * written to every subscriber at once.
 */
import { createServer, type ServerResponse } from 'node:http'
import { createEnvelopes, SSE_HEADERS, sseFrame, streamOf } from '../envelope.js'
import type { Variant } from '../variant.js'

export function createVariant(): Variant {
  const subscribers = new Map<string, Set<ServerResponse>>()
  const envelope = createEnvelopes()
  const server = createServer((req, res) => {
    const stream = streamOf(req.url)
    if (stream === undefined) return void res.writeHead(404).end()
    res.writeHead(200, SSE_HEADERS)
    res.flushHeaders()
    const set = subscribers.get(stream) ?? new Set()
    subscribers.set(stream, set)
    set.add(res)
    res.on('close', () => set.delete(res))
  })
  return {
    server,
    publish(stream, payload) {
      const frame = sseFrame(envelope(stream, payload))
      for (const res of subscribers.get(stream) ?? []) res.write(frame)
    },
  }
}
