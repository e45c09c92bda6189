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
  const values: T[] = []
  let head = 0
  let ended = false
  let failure: TaskwireError | undefined
  let waiter: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined

  const stop = (): void => {
    if (ended) return
    ended = true
    onDone()
  }
  const settle = (): void => {
    if (!waiter) return
    const current = waiter
    if (head < values.length) {
      waiter = undefined
      current.resolve({ value: take(), done: false })
    } else if (ended) {
      waiter = undefined
      const error = failure
      failure = undefined
      if (error) current.reject(error)
      else current.resolve({ value: undefined, done: true })
    }
  }
  const take = (): T => {
    const value = values[head] as T
    head++
    if (head > 1024 && head * 2 > values.length) {
      values.splice(0, head)
      head = 0
    }
    return value
  }

  const queue: EventQueue<T> = {
    push(value) {
      if (ended) return
      if (values.length - head >= capacity) {
        failure = new TaskwireError(
          'slow-consumer',
          `The iterator fell ${capacity} events behind; read faster, raise iteratorBufferSize, or use on().`,
        )
        stop()
      } else {
        values.push(value)
      }
      settle()
    },
    end(error) {
      if (ended) return
      failure = error
      stop()
      settle()
    },
    next() {
      if (head < values.length) return Promise.resolve({ value: take(), done: false })
      if (ended) {
        if (failure) {
          const error = failure
          failure = undefined
          return Promise.reject(error)
        }
        return Promise.resolve({ value: undefined, done: true })
      }
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject }
      })
    },
    return() {
      values.length = 0
      head = 0
      failure = undefined
      stop()
      settle()
      return Promise.resolve({ value: undefined, done: true })
    },
    [Symbol.asyncIterator]() {
      return queue
    },
  }
  return queue
}
