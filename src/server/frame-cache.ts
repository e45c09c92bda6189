import { type Envelope, type Framing, formatEvent } from '../core/index.js'

/**
 * Serializes each envelope once per framing, however many subscribers and replays write
 * it. Frames are cached on the envelope object, so an envelope a broker keeps in its log
 * is never serialized twice, and the cache goes when the broker drops it.
 */
export interface FrameCache {
  /**
   * The envelope's SSE frame.
   *
   * @param envelope - the event
   * @param framing - named or data-only
   * @returns the frame text, from the cache when it was written before
   */
  frame(envelope: Envelope, framing: Framing): string
  /**
   * Remembers the JSON of a payload serialized already (to measure it at publish time),
   * so the frame reuses it rather than serializing the payload again.
   *
   * @param data - the payload object
   * @param json - `JSON.stringify(data)`
   */
  rememberData(data: object, json: string): void
}

/**
 * Creates a frame cache.
 *
 * @returns an empty cache
 */
export function createFrameCache(): FrameCache {
  const named = new WeakMap<Envelope, string>()
  const dataOnly = new WeakMap<Envelope, string>()
  const dataJson = new WeakMap<object, string>()

  const envelopeJson = (envelope: Envelope): string => {
    const data = envelope.data
    const json = typeof data === 'object' && data !== null ? dataJson.get(data) : undefined
    if (json === undefined) return JSON.stringify(envelope)
    // The same text JSON.stringify(envelope) gives for an envelope built in field order.
    return `{"type":${JSON.stringify(envelope.type)},"stream":${JSON.stringify(envelope.stream)},"id":${JSON.stringify(envelope.id)},"ts":${JSON.stringify(envelope.ts)},"data":${json}}`
  }

  return {
    frame(envelope, framing) {
      const cache = framing === 'named' ? named : dataOnly
      let frame = cache.get(envelope)
      if (frame === undefined) {
        frame = formatEvent({
          id: envelope.id,
          event: framing === 'named' ? envelope.type : undefined,
          data: envelopeJson(envelope),
        })
        cache.set(envelope, frame)
      }
      return frame
    },
    rememberData(data, json) {
      dataJson.set(data, json)
    },
  }
}

/**
 * Tells whether a string takes more than `limit` bytes in UTF-8, without encoding it and
 * without counting further than needed.
 *
 * @param text - the string
 * @param limit - the most bytes allowed
 * @returns true when the UTF-8 encoding of `text` is longer than `limit`
 */
export function exceedsUtf8Bytes(text: string, limit: number): boolean {
  // Each UTF-16 code unit takes 1 to 3 bytes (a surrogate pair 4 for 2 units).
  if (text.length > limit) return true
  if (text.length * 3 <= limit) return false
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4
      i++
    } else bytes += 3
    if (bytes > limit) return true
  }
  return false
}
