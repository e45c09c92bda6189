import { createParser, type EventSourceMessage } from 'eventsource-parser'
import type { TaskwireError } from '../../src/core/index.js'
import type { SubscriberSink } from '../../src/server/index.js'

/** An in-memory sink that parses what the hub writes, as a client would. */
export interface TestSink extends SubscriberSink {
  /** Every chunk passed to write(), in order. */
  readonly chunks: string[]
  /** The events parsed from the chunks. */
  readonly events: EventSourceMessage[]
  /** The comments parsed (heartbeats). */
  readonly comments: string[]
  /** The `retry:` values parsed. */
  readonly retries: number[]
  /** Set when end() was called, with its error. */
  ended: { error: TaskwireError | undefined } | undefined
  /** What bufferedBytes() reports; tests raise it to play a slow reader. */
  buffered: number
  /** The envelopes carried by the events, parsed from `data:`. */
  envelopes(): { type: string; id: string; data: unknown }[]
  /** Resolves once the predicate holds (checked after every write and end). */
  until(predicate: (sink: TestSink) => boolean): Promise<void>
}

/**
 * Creates a sink for hub tests.
 *
 * @param options - `throwOnWrite` makes write() throw, as a destroyed socket would
 * @returns the sink
 */
export function createTestSink(options: { throwOnWrite?: boolean } = {}): TestSink {
  const waiters: { predicate: (sink: TestSink) => boolean; resolve: () => void }[] = []
  const check = (): void => {
    for (const waiter of [...waiters]) {
      if (waiter.predicate(sink)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  }
  const parser = createParser({
    onEvent: (event) => sink.events.push(event),
    onComment: (comment) => sink.comments.push(comment),
    onRetry: (retry) => sink.retries.push(retry),
  })
  const sink: TestSink = {
    chunks: [],
    events: [],
    comments: [],
    retries: [],
    ended: undefined,
    buffered: 0,
    write(chunk) {
      if (options.throwOnWrite) throw new Error('socket destroyed')
      if (sink.ended) throw new Error('write after end')
      sink.chunks.push(chunk)
      parser.feed(chunk)
      check()
    },
    bufferedBytes: () => sink.buffered,
    end(error) {
      sink.ended = { error }
      check()
    },
    envelopes: () => sink.events.map((event) => JSON.parse(event.data)),
    until(predicate) {
      if (predicate(sink)) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ predicate, resolve }))
    },
  }
  return sink
}
