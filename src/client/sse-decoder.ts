import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser'

/** Where {@link createSseDecoder} delivers what it reads. */
export interface SseDecoderCallbacks {
  /**
   * A message was dispatched (a block with at least one `data:` line).
   *
   * @param message - its data, `event:` name and `id:` when the block had them
   */
  onEvent(message: EventSourceMessage): void
  /**
   * A block without data carried an `id:` field. No event is dispatched, but the last event
   * id still changes (WHATWG §9.2.6: the id sets the last event ID buffer, and dispatch
   * copies it before it checks for data).
   *
   * @param id - the new last event id; empty means "no id"
   */
  onId?(id: string): void
  /**
   * The server sent `retry:`.
   *
   * @param ms - its reconnection time in milliseconds
   */
  onRetry?(ms: number): void
  /**
   * A comment line (a heartbeat).
   *
   * @param comment - the text after the colon
   */
  onComment?(comment: string): void
  /**
   * A line the parser could not use (an unknown field, an invalid `retry:`).
   *
   * @param error - what eventsource-parser reported
   */
  onError?(error: ParseError): void
  /**
   * A block grew past `maxEventChars` before its blank line. The decoder ignores the rest
   * of the stream until {@link SseDecoder.reset}.
   *
   * @param chars - how many characters the block held when it was given up
   */
  onOverflow?(chars: number): void
}

/** Options of {@link createSseDecoder}. */
export interface SseDecoderOptions {
  /**
   * The most characters one block (one event's lines) may hold; a stream that never ends
   * its line or its block cannot grow memory past it. `false` for no bound.
   * @defaultValue `false`
   */
  maxEventChars?: number | false | undefined
}

/** A streaming SSE decoder. */
export interface SseDecoder {
  /**
   * Feeds the next piece of decoded text; it may end anywhere, even inside a line or
   * between a CR and its LF.
   *
   * @param chunk - text as it arrived
   */
  feed(chunk: string): void
  /** Forgets any partial line and block, for a new connection (WHATWG: pending data is discarded). */
  reset(): void
}

const CR = 13
const LF = 10
const BOM = 0xfeff

/**
 * Creates an SSE decoder: a small line splitter in front of eventsource-parser 3. The
 * splitter adds three things the parser does not do on its own:
 *
 * - a CR that ends a chunk is a line break at once, instead of waiting for the next chunk
 *   to see whether an LF follows, yet a CR LF split across two chunks is still one break;
 * - a leading U+FEFF is stripped once, at the start of the stream only (the parser looks
 *   for the three UTF-8 bytes of a BOM as characters, which decoded text never holds);
 * - a block with `id:` and no data still reports the new last event id.
 *
 * @param callbacks - where messages, ids, retry values and comments go
 * @param options - the size bound
 * @returns the decoder
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 * @example
 * ```ts
 * const decoder = createSseDecoder({ onEvent: (message) => console.log(message.data) })
 * decoder.feed('id: 1\ndata: hello\n\n')
 * ```
 */
export function createSseDecoder(
  callbacks: SseDecoderCallbacks,
  options: SseDecoderOptions = {},
): SseDecoder {
  const maxChars = options.maxEventChars ?? false
  const parser = createParser({
    onEvent: (message) => callbacks.onEvent(message),
    onRetry: (ms) => callbacks.onRetry?.(ms),
    onComment: (comment) => callbacks.onComment?.(comment),
    onError: (error) => callbacks.onError?.(error),
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
