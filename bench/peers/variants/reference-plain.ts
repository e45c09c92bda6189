/**
 * The hand-written endpoint with no batching: each event is serialized once and its frame
 * written to every subscriber at once.
 */
import { createEnvelopes, sseFrame } from '../envelope.js'
import { createSubscriberServer } from '../subscribers.js'
import type { Variant } from '../variant.js'

export function createVariant(): Variant {
  const { server, subscribers } = createSubscriberServer()
  const envelope = createEnvelopes()
  return {
    server,
    publish(stream, payload) {
      const frame = sseFrame(envelope(stream, payload))
      for (const res of subscribers.get(stream) ?? []) res.write(frame)
    },
  }
}
