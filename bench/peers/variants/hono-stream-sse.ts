/**
 * Hono's `streamSSE` on `@hono/node-server`, fanned out as Hono users write it: a Set of
 * callbacks per stream, each calling its connection's `writeSSE`. The JSON is serialized
 * once per event; Hono writes `event:`, `data:` then `id:`.
 */
import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { createEnvelopes } from '../envelope.js'
import type { Variant } from '../variant.js'

interface Frame {
  id: string
  event: string
  data: string
}

export function createVariant(): Variant {
  const listeners = new Map<string, Set<(frame: Frame) => void>>()
  const envelope = createEnvelopes()
  const app = new Hono()
  app.get('/s/:stream', (c) =>
    streamSSE(c, async (sse) => {
      const stream = c.req.param('stream')
      const set = listeners.get(stream) ?? new Set()
      listeners.set(stream, set)
      const listener = (frame: Frame) => void sse.writeSSE(frame)
      set.add(listener)
      await new Promise<void>((resolve) => sse.onAbort(resolve))
      set.delete(listener)
    }),
  )
  return {
    // Created with node:http's createServer, the adapter's default.
    server: createAdaptorServer({ fetch: app.fetch }) as Server,
    publish(stream, payload) {
      const event = envelope(stream, payload)
      const frame = { id: event.id, event: event.type, data: JSON.stringify(event) }
      for (const listener of listeners.get(stream) ?? []) listener(frame)
    },
  }
}
