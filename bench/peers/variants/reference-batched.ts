/**
 * The closest limit measured: the hand-written endpoint that serializes each event once,
 * appends its frame to the stream's pending text, and writes that text once per subscriber
 * when the event-loop turn ends. The flush is scheduled with `setImmediate` on the first
 * publish of a turn, so every event published within one turn goes out in one write.
 */
import { createEnvelopes, sseFrame } from '../envelope.js'
import { createSubscriberServer } from '../subscribers.js'
import type { Variant } from '../variant.js'

export function createVariant(): Variant {
  const { server, subscribers } = createSubscriberServer()
  const pending = new Map<string, string>()
  const envelope = createEnvelopes()
  let scheduled = false

  const flush = () => {
    scheduled = false
    for (const [stream, text] of pending) {
      for (const res of subscribers.get(stream) ?? []) res.write(text)
    }
    pending.clear()
  }

  return {
    server,
    publish(stream, payload) {
      const frame = sseFrame(envelope(stream, payload))
      pending.set(stream, (pending.get(stream) ?? '') + frame)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
  }
}
