/**
 * The SSE decoder as it was before it fed chunks straight to eventsource-parser (issue 8,
 * "Decoding speed"), kept unchanged as the peer `bench/decode.ts` measures against and as a
 * model the property tests compare the new decoder with.
 */
import { createParser } from 'eventsource-parser'
import type { SseDecoder, SseDecoderCallbacks, SseDecoderOptions } from '../../src/client/sse-decoder.js'

const CR = 13
const LF = 10
const BOM = 0xfeff

/**
 * The decoder as it was before the rewrite: it splits lines itself, rebuilds each block's
 * text and feeds that to eventsource-parser, which scans it again.
 *
 * @param callbacks - where messages, ids, retry values and comments go
 * @param options - the size bound
 * @returns the decoder
 */
export function referenceSseDecoder(
  callbacks: SseDecoderCallbacks,
  options: SseDecoderOptions = {},
): SseDecoder {
  const maxChars = options.maxEventChars ?? false
  const parser = createParser({
    onEvent: (message) => callbacks.onEvent(message),
    onRetry: (ms) => callbacks.onRetry?.(ms),
    onComment: (comment) => callbacks.onComment?.(comment),
    // The parser names no field for a bad `retry:`; the decoder reports the line's field.
    onError: (error) =>
      callbacks.onInvalidLine?.(
        error.type as 'unknown-field' | 'invalid-retry',
        error.field ?? 'retry',
        error.value ?? '',
        error.line ?? '',
      ),
  })
  let partial = ''
  let afterCR = false
  let started = false
  let blockHasData = false
  let blockId: string | undefined
  let blockChars = 0
  let overflowed = false
  // A callback may reset the decoder (a handler reconnects) while feed() is still looping
  // over the old chunk; the epoch tells the loop to stop touching the new state.
  let epoch = 0

  const restart = (): void => {
    epoch++
    parser.reset()
    // The first feed after a reset is where the parser checks for its byte-BOM; an empty
    // feed spends that check so only our U+FEFF handling applies.
    parser.feed('')
    partial = ''
    afterCR = false
    started = false
    blockHasData = false
    blockId = undefined
    blockChars = 0
    overflowed = false
  }
  restart()

  const overflow = (chars: number): void => {
    overflowed = true
    callbacks.onOverflow?.(chars)
  }

  const track = (line: string): boolean => {
    if (line === '') return true
    if (line === 'data' || line.startsWith('data:')) blockHasData = true
    else if (line === 'id' || line.startsWith('id:')) {
      const value = line.length > 3 && line.charCodeAt(3) === 32 ? line.slice(4) : line.slice(3)
      // WHATWG: an id holding NUL is ignored.
      if (!value.includes('\0')) blockId = value
    }
    return false
  }

  return {
    feed(input) {
      if (overflowed) return
      const feeding = epoch
      let chunk = input
      if (!started) {
        if (chunk === '') return
        started = true
        if (chunk.charCodeAt(0) === BOM) chunk = chunk.slice(1)
      }
      let start = 0
      if (afterCR) {
        afterCR = false
        if (chunk.charCodeAt(0) === LF) start = 1
      }
      let lines = ''
      const length = chunk.length
      let i = start
      while (i < length) {
        const code = chunk.charCodeAt(i)
        if (code !== LF && code !== CR) {
          i++
          continue
        }
        const line = partial === '' ? chunk.slice(start, i) : partial + chunk.slice(start, i)
        partial = ''
        lines += `${line}\n`
        blockChars += line.length + 1
        if (code === CR) {
          if (i + 1 === length) afterCR = true
          else if (chunk.charCodeAt(i + 1) === LF) i++
        }
        i++
        start = i
        if (track(line)) {
          // The block ends here: let the parser dispatch it before reporting a data-less
          // id, so ids are reported in stream order.
          parser.feed(lines)
          if (epoch !== feeding) return
          lines = ''
          const id = blockId
          const idOnly = !blockHasData && id !== undefined
          blockHasData = false
          blockId = undefined
          blockChars = 0
          if (idOnly) callbacks.onId?.(id)
          if (epoch !== feeding) return
        }
      }
      if (start < length) partial += chunk.slice(start)
      if (maxChars !== false && blockChars + partial.length > maxChars) {
        overflow(blockChars + partial.length)
        return
      }
      if (lines !== '') parser.feed(lines)
    },
    reset: restart,
  }
}
