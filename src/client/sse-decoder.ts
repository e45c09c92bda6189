import type { EventSourceMessage } from 'eventsource-parser'

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
   * A line the decoder could not use: an unknown field, or a `retry:` that is not digits.
   * The raw parts rather than an error object, so a client that ignores such lines ships no
   * message text for them.
   *
   * @param kind - `unknown-field` or `invalid-retry`, as eventsource-parser names them
   * @param field - the field's name
   * @param value - its value
   * @param line - the whole line
   */
  onInvalidLine?(kind: 'unknown-field' | 'invalid-retry', field: string, value: string, line: string): void
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

const LF = 10
const CR = 13
const SPACE = 32
const BOM = 0xfeff
const CR_BREAKS = /\r\n?/g
const DIGITS = /^\d+$/

/**
 * Creates an SSE decoder: a one-pass reader of the WHATWG event stream that reports what
 * eventsource-parser 3 reports (the same messages, and the same lines it reports as errors), and also:
 *
 * - a CR that ends a chunk is a line break at once, instead of waiting for the next chunk
 *   to see whether an LF follows, yet a CR LF split across two chunks is still one break;
 * - a leading U+FEFF is stripped once, at the start of the stream only (the parser looks
 *   for the three UTF-8 bytes of a BOM as characters, which decoded text never holds);
 * - a block with `id:` and no data still reports the new last event id;
 * - a block may hold at most `maxEventChars` characters, checked when it ends and when a
 *   chunk ends with the block still open, so memory stays bounded.
 *
 * It reads the lines itself rather than wrapping the parser: finding id-only blocks and the
 * size of the open block in front of the parser meant reading every chunk twice (issue 8,
 * "Decoding speed": `bench/decode.ts`).
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
  // A callback may reset the decoder (a handler reconnects) while feed() is still reading
  // the old chunk; the epoch tells the loop to stop touching the new state.
  let epoch = 0
  let started = false
  let afterCR = false
  let overflowed = false
  /** The line begun in an earlier chunk. */
  let pending = ''
  /** Characters of the open block that arrived in earlier chunks, `pending` included. */
  let carried = 0
  // The open block's fields; `undefined` until a line sets them (an empty id is an id).
  let id: string | undefined
  let event: string | undefined
  let data: string | undefined

  /** A blank line: dispatch the block (WHATWG §9.2.6), or report the id of one without data. */
  const dispatch = (): void => {
    if (data !== undefined) callbacks.onEvent({ id, event, data })
    else if (id !== undefined) callbacks.onId?.(id)
    id = undefined
    event = undefined
    data = undefined
  }

  const field = (name: string, value: string, line: string): void => {
    switch (name) {
      case 'data':
        data = data === undefined ? value : `${data}\n${value}`
        break
      case 'id':
        // WHATWG: an id holding NUL is ignored.
        if (!value.includes('\0')) id = value
        break
      case 'event':
        event = value || undefined
        break
      case 'retry':
        if (DIGITS.test(value)) callbacks.onRetry?.(Number.parseInt(value, 10))
        else callbacks.onInvalidLine?.('invalid-retry', name, value, line)
        break
      default:
        callbacks.onInvalidLine?.('unknown-field', name, value, line)
    }
  }

  /** Reads the non-empty line `text[start, end)`. */
  const line = (text: string, start: number, end: number): void => {
    // The fields of every frame are read without slicing the line first.
    const name = text.startsWith('data:', start)
      ? 'data'
      : text.startsWith('id:', start)
        ? 'id'
        : text.startsWith('event:', start)
          ? 'event'
          : undefined
    if (name !== undefined) {
      const at = start + name.length + 1
      field(name, text.slice(text.charCodeAt(at) === SPACE ? at + 1 : at, end), '')
      return
    }
    const raw = text.slice(start, end)
    const colon = raw.indexOf(':')
    if (colon === 0) callbacks.onComment?.(raw.slice(raw.charCodeAt(1) === SPACE ? 2 : 1))
    else if (colon === -1) field(raw, '', raw)
    else
      field(raw.slice(0, colon), raw.slice(raw.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1), raw)
  }

  const restart = (): void => {
    epoch++
    started = false
    afterCR = false
    overflowed = false
    pending = ''
    carried = 0
    id = undefined
    event = undefined
    data = undefined
  }

  const overflow = (chars: number): void => {
    restart()
    overflowed = true
    callbacks.onOverflow?.(chars)
  }

  return {
    feed(input) {
      if (overflowed || input === '') return
      const feeding = epoch
      let text = input
      if (!started) {
        started = true
        if (text.charCodeAt(0) === BOM) text = text.slice(1)
      }
      if (afterCR) {
        afterCR = false
        if (text.charCodeAt(0) === LF) text = text.slice(1)
      }
      if (text.includes('\r')) {
        // As LF, a CR that ends the chunk is a break at once; an LF that starts the next
        // chunk is then dropped above.
        afterCR = text.charCodeAt(text.length - 1) === CR
        text = text.replace(CR_BREAKS, '\n')
      }
      // Where the open block starts, relative to this chunk: before it while none ends here.
      let blockStart = -carried
      let start = 0
      let lf = text.indexOf('\n')
      if (pending !== '' && lf !== -1) {
        const whole = pending + text.slice(0, lf)
        pending = ''
        line(whole, 0, whole.length)
        if (epoch !== feeding) return
        start = lf + 1
        lf = text.indexOf('\n', start)
      }
      while (lf !== -1) {
        if (lf === start) {
          // A block that ends within this chunk is held to the bound too, so whether a
          // stream overflows does not depend on where its chunks were cut.
          if (maxChars !== false && lf - blockStart > maxChars) return overflow(lf - blockStart)
          dispatch()
          blockStart = lf + 1
        } else line(text, start, lf)
        if (epoch !== feeding) return
        start = lf + 1
        lf = text.indexOf('\n', start)
      }
      if (start < text.length) pending += text.slice(start)
      carried = text.length - blockStart
      if (maxChars !== false && carried > maxChars) overflow(carried)
    },
    reset: restart,
  }
}
