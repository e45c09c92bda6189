import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser'

/** Everything a conforming reader reported while reading a stream. */
export interface ReadBack {
  events: EventSourceMessage[]
  retries: number[]
  comments: string[]
  errors: ParseError[]
}

function collector(): { result: ReadBack; feed: (text: string) => void } {
  const result: ReadBack = { events: [], retries: [], comments: [], errors: [] }
  const parser = createParser({
    onEvent: (event) => result.events.push(event),
    onRetry: (retry) => result.retries.push(retry),
    onComment: (comment) => result.comments.push(comment),
    onError: (error) => result.errors.push(error),
  })
  return { result, feed: (text) => parser.feed(text) }
}

/**
 * Reads text chunks with eventsource-parser, the parser the taskwire client uses.
 *
 * @param chunks - the stream's text, whole or in pieces
 */
export function readText(...chunks: string[]): ReadBack {
  const { result, feed } = collector()
  for (const chunk of chunks) feed(chunk)
  return result
}

/**
 * Reads byte chunks the way a fetch-stream client does: a streaming UTF-8 TextDecoder (which
 * drops one leading BOM, as the WHATWG "Interpreting an event stream" section requires)
 * feeding eventsource-parser.
 *
 * @param chunks - the stream's bytes in the pieces the network delivered
 */
export function readBytes(chunks: readonly Uint8Array[]): ReadBack {
  const { result, feed } = collector()
  const decoder = new TextDecoder('utf-8')
  for (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true })
    if (text !== '') feed(text)
  }
  const rest = decoder.decode()
  if (rest !== '') feed(rest)
  return result
}

/**
 * Cuts bytes at the given positions (sorted, unique, each strictly inside the array).
 *
 * @param bytes - the whole stream
 * @param cuts - where to cut
 */
export function splitBytes(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const pieces: Uint8Array[] = []
  let start = 0
  for (const cut of cuts) {
    pieces.push(bytes.subarray(start, cut))
    start = cut
  }
  pieces.push(bytes.subarray(start))
  return pieces
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}
