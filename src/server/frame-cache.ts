import { type Envelope, type Framing, formatEvent } from '../core/index.js'

/** An envelope, with its payload's JSON when the publishing hub already wrote it. */
type Framable = Envelope & { readonly dataJson?: string | undefined }

/**
 * Writes each envelope's frame once per framing, however many subscribers and replays write
 * it. Frames are cached on the envelope object, so an event a broker keeps (or a process
 * reads once for all its subscribers) is framed once, and the cache goes with the object.
 * The payload's JSON comes with stored events, serialized by the hub that published them,
 * so no process serializes a payload again.
 */
export interface FrameCache {
  /**
   * The envelope's SSE frame.
   *
   * @param envelope - the event
   * @param framing - named or data-only
   * @returns the frame text, from the cache when it was written before
   */
  frame(envelope: Framable, framing: Framing): string
}

/** Where an envelope keeps its frames, by framing: on the object, so the cache goes with it. */
const NAMED = Symbol('taskwire.frame.named')
const DATA_ONLY = Symbol('taskwire.frame.data-only')

type Cached = Framable & { [NAMED]?: string; [DATA_ONLY]?: string }

/** CR, LF or NUL, which would end an `id:` or `event:` field early. */
const HAS_BREAK_OR_NUL = /[\r\n\0]/
const HAS_BREAK = /[\r\n]/

/**
 * Creates a frame cache.
 *
 * The frames are kept on the envelope object under symbol keys rather than in a `WeakMap`:
 * the hub frames every event it fans out, and a `WeakMap` entry per event cost both its
 * table's growth and the garbage collector's ephemeron pass over every event a log keeps.
 * Symbol keys stay out of `JSON.stringify` and `Object.keys`. A frozen envelope is framed
 * each time it is written.
 *
 * @returns a cache
 */
export function createFrameCache(): FrameCache {
  return {
    frame(envelope, framing) {
      const cached = envelope as Cached
      const key = framing === 'named' ? NAMED : DATA_ONLY
      let frame = cached[key]
      if (frame === undefined) {
        frame = writeFrame(envelope, framing)
        if (Object.isExtensible(envelope)) cached[key] = frame
      }
      return frame
    },
  }
}

function writeFrame(envelope: Framable, framing: Framing): string {
  const event = framing === 'named' ? envelope.type : undefined
  const json = envelope.dataJson
  if (json === undefined) return formatEvent({ id: envelope.id, event, data: JSON.stringify(envelope) })
  // The same text JSON.stringify(envelope) gives for an envelope built in field order.
  const data = `{"type":${JSON.stringify(envelope.type)},"stream":${JSON.stringify(envelope.stream)},"id":${JSON.stringify(envelope.id)},"ts":${JSON.stringify(envelope.ts)},"data":${json}}`
  // JSON text holds no line break but inside strings, escaped, so the envelope is one `data:`
  // line: formatEvent's checks are needed only for the id, the type, and a payload's JSON that
  // did not come from JSON.stringify (a broker's store is outside this process).
  if (
    HAS_BREAK_OR_NUL.test(envelope.id) ||
    (event !== undefined && HAS_BREAK_OR_NUL.test(event)) ||
    HAS_BREAK.test(json)
  ) {
    return formatEvent({ id: envelope.id, event, data })
  }
  return event === undefined
    ? `id: ${envelope.id}\ndata: ${data}\n\n`
    : `id: ${envelope.id}\nevent: ${event}\ndata: ${data}\n\n`
}

/**
 * The length of an event's named frame before its id is known (`id: \n`, `event: <type>`, and
 * the envelope with `"id":""`), in UTF-16 code units and in UTF-8 bytes, worked out from the
 * pieces rather than by writing the frame: the hub checks every publish against
 * `maxEventBytes`, and writing a frame to measure it costs as much as writing it.
 *
 * @param type - the event type
 * @param stream - the stream
 * @param ts - the timestamp, ISO 8601 (ASCII)
 * @param dataJson - the payload's JSON
 * @param limit - the most UTF-8 bytes of interest; counting stops past it
 * @returns the frame's length in code units, and whether its UTF-8 form exceeds `limit`
 */
export function measureNamedFrame(
  type: string,
  stream: string,
  ts: string,
  dataJson: string,
  limit: number | false,
): { chars: number; tooLarge: boolean } {
  const typeJson = JSON.stringify(type)
  const streamJson = JSON.stringify(stream)
  // `id: \n` + `event: ` + type + `\n` + `data: ` + envelope + `\n\n`, where the envelope is
  // {"type":T,"stream":S,"id":"","ts":TS,"data":D}: 39 characters besides its values.
  const fixed = 5 + 8 + type.length + 8 + 39 + typeJson.length + streamJson.length + 2 + ts.length + 2
  const chars = fixed + dataJson.length
  if (limit === false) return { chars, tooLarge: false }
  // Only the type (raw and in JSON), the stream and the payload can hold non-ASCII text.
  const extra = (text: string): number => utf8Bytes(text) - text.length
  const fixedBytes = fixed + extra(type) * 2 + extra(streamJson)
  return { chars, tooLarge: fixedBytes > limit || exceedsUtf8Bytes(dataJson, limit - fixedBytes) }
}

/** The UTF-8 length of a short string. */
function utf8Bytes(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) continue
    if (code < 0x800) bytes += 1
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair: 4 bytes for 2 code units.
      bytes += 2
      i++
    } else bytes += 2
  }
  return bytes
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
