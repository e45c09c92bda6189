/**
 * better-sse: one channel per stream, sessions without keep-alive, `channel.broadcast`.
 * It serializes the data once per session and writes `field:value` without a space.
 */
import { createServer } from 'node:http'
import { type Channel, createChannel, createSession } from 'better-sse'
import { createEnvelopes, streamOf } from '../envelope.js'
import type { Variant } from '../variant.js'

export function createVariant(): Variant {
  const channels = new Map<string, Channel>()
  const envelope = createEnvelopes()
  const channelOf = (stream: string) => {
    const channel = channels.get(stream) ?? createChannel()
    channels.set(stream, channel)
    return channel
  }
  const server = createServer((req, res) => {
    const stream = streamOf(req.url)
    if (stream === undefined) return void res.writeHead(404).end()
    void createSession(req, res, { keepAlive: null }).then((session) => channelOf(stream).register(session))
  })
  return {
    server,
    publish(stream, payload) {
      const event = envelope(stream, payload)
      channels.get(stream)?.broadcast(event, event.type, { eventId: event.id })
    },
  }
}
