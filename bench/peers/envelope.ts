import type { ProgressPayload } from './payload.js'

/** The event object taskwire frames as `data:`; peers send the same JSON. */
export interface Envelope {
  type: 'agent.progress'
  stream: string
  id: string
  ts: string
  data: ProgressPayload
}

/**
 * Wraps payloads as taskwire's envelopes, with ids in the shape of its memory broker's
 * (`<ms>-<n>`, n counting per stream), so every variant's frames are the same length.
 *
 * @returns a function from stream and payload to envelope
 */
export function createEnvelopes(): (stream: string, data: ProgressPayload) => Envelope {
  const epoch = Date.now()
  const counters = new Map<string, number>()
  return (stream, data) => {
    const n = (counters.get(stream) ?? 0) + 1
    counters.set(stream, n)
    return { type: 'agent.progress', stream, id: `${epoch}-${n}`, ts: new Date().toISOString(), data }
  }
}

/**
 * The SSE frame of an envelope, as taskwire writes it.
 *
 * @param envelope - the event
 * @returns `id:`, `event:` and `data:` lines and the blank line
 */
export function sseFrame(envelope: Envelope): string {
  return `id: ${envelope.id}\nevent: ${envelope.type}\ndata: ${JSON.stringify(envelope)}\n\n`
}

/** The headers the hand-written references answer with. */
export const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } as const

/**
 * The stream a request subscribes to, from its path `/s/<stream>`.
 *
 * @param url - the request's URL
 * @returns the stream's name, or `undefined` for another path
 */
export function streamOf(url: string | undefined): string | undefined {
  return /^\/s\/([^/?]+)/.exec(url ?? '')?.[1]
}
