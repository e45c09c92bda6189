import { createParser, type EventSourceMessage } from 'eventsource-parser'

/** One thing an SSE body said, in the order it said it. */
export type SseItem =
  | { kind: 'event'; id: string | undefined; event: string | undefined; data: string }
  | { kind: 'retry'; value: number }
  | { kind: 'comment'; value: string }

/** Everything read so far from one SSE body. */
export interface SseLog {
  /** Every item in order. */
  items: SseItem[]
  /** Only the events. */
  events: EventSourceMessage[]
  /** The decoded text, byte for byte as it arrived. */
  text: string
  /** True once the body ended (the server closed the response). */
  ended: boolean
}

/**
 * Reads an SSE body incrementally with eventsource-parser, the parser the client uses.
 * Await `until()` for a condition, `next()` for the next event; every wait is driven by
 * bytes arriving, never by a timer, and rejects if the body ends first.
 */
export class SseReader {
  readonly log: SseLog = { items: [], events: [], text: '', ended: false }
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #decoder = new TextDecoder()
  readonly #parser = createParser({
    onEvent: (event) => {
      this.log.items.push({ kind: 'event', id: event.id, event: event.event, data: event.data })
      this.log.events.push(event)
    },
    onRetry: (value) => this.log.items.push({ kind: 'retry', value }),
    onComment: (value) => this.log.items.push({ kind: 'comment', value }),
  })
  #pending: Promise<boolean> | undefined

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader()
  }

  /** Reads one chunk; resolves false once the body has ended. */
  #pump(): Promise<boolean> {
    this.#pending ??= this.#reader.read().then(
      ({ done, value }) => {
        this.#pending = undefined
        if (done) {
          this.log.ended = true
          return false
        }
        const text = this.#decoder.decode(value, { stream: true })
        this.log.text += text
        this.#parser.feed(text)
        return true
      },
      (error: unknown) => {
        this.#pending = undefined
        this.log.ended = true
        throw error
      },
    )
    return this.#pending
  }

  /**
   * Reads until `condition(log)` holds.
   *
   * @param condition - checked after each chunk
   * @param maxChunks - a bound on the chunks read
   * @returns the log
   * @throws when the body ends or `maxChunks` pass first
   */
  async until(condition: (log: SseLog) => boolean, maxChunks = 100_000): Promise<SseLog> {
    for (let i = 0; i < maxChunks && !condition(this.log); i++) {
      if (!(await this.#pump())) {
        if (condition(this.log)) return this.log
        throw new Error(`SSE body ended before the condition held; read: ${JSON.stringify(this.log.text)}`)
      }
    }
    if (!condition(this.log)) throw new Error(`condition not met after ${maxChunks} chunks`)
    return this.log
  }

  /**
   * Reads until `count` events have arrived in total.
   *
   * @param count - the number of events
   * @returns the first `count` events
   */
  async events(count: number): Promise<EventSourceMessage[]> {
    await this.until((log) => log.events.length >= count)
    return this.log.events.slice(0, count)
  }

  /**
   * Reads to the end of the body.
   *
   * @param maxChunks - a bound on the chunks read
   * @returns the log
   */
  async toEnd(maxChunks = 100_000): Promise<SseLog> {
    for (let i = 0; i < maxChunks; i++) if (!(await this.#pump())) return this.log
    throw new Error(`body did not end after ${maxChunks} chunks`)
  }

  /** Stops reading and cancels the body (the client leaves). */
  async cancel(): Promise<void> {
    await this.#reader.cancel()
  }
}

/**
 * Opens an SSE reader on a fetch `Response`.
 *
 * @param response - a response whose body is an event stream
 * @returns the reader
 */
export function readSse(response: Response): SseReader {
  if (!response.body) throw new Error(`response ${response.status} has no body`)
  return new SseReader(response.body)
}
