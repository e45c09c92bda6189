import { TaskwireError } from '../core/index.js'

/** An async iterator fed by pushes, holding at most a fixed number of values. */
export interface EventQueue<T> extends AsyncIterableIterator<T> {
  /**
   * Adds a value for the consumer.
   *
   * @param value - the next value
   */
  push(value: T): void
  /**
   * Ends the iteration once the buffered values are read.
   *
   * @param error - thrown to the consumer after the buffered values, when given
   */
  end(error?: TaskwireError): void
}

/**
 * Creates a bounded queue behind `for await`. The producer (the network) cannot be paused,
 * so a consumer that falls `capacity` values behind gets a `slow-consumer` error rather
 * than unbounded memory or silently lost events.
 *
 * @param capacity - the most values held
 * @param onDone - called once when the queue ends or the consumer stops
 * @returns the queue
 */
export function createEventQueue<T>(capacity: number, onDone: () => void): EventQueue<T> {
  // At most `capacity` values, so shift() on the array stays cheap.
  const values: T[] = []
  let ended = false
  let failure: TaskwireError | undefined
  let wake: (() => void) | undefined

  const stop = (error?: TaskwireError): void => {
    if (ended) return
    ended = true
    failure = error
    onDone()
    wake?.()
  }

  const queue: EventQueue<T> = {
    push(value) {
      if (ended) return
      if (values.length >= capacity) {
        stop(
          new TaskwireError(
            'slow-consumer',
            `The iterator fell ${capacity} events behind; read faster or raise iteratorBufferSize.`,
          ),
        )
      } else {
        values.push(value)
        wake?.()
      }
    },
    end: stop,
    async next() {
      while (values.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve))
      wake = undefined
      if (values.length > 0) return { value: values.shift() as T, done: false }
      const error = failure
      failure = undefined
      if (error) throw error
      return { value: undefined, done: true }
    },
    async return() {
      values.length = 0
      stop()
      failure = undefined
      return { value: undefined, done: true }
    },
    [Symbol.asyncIterator]() {
      return queue
    },
  }
  return queue
}
