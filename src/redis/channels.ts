import { TaskwireError } from '../core/index.js'
import type { OwnedRedisConnection } from './options.js'

/** What {@link ChannelListeners} needs. */
export interface ChannelListenersOptions {
  /** The pub/sub connection, opened on first use. */
  readonly connection: () => Promise<OwnedRedisConnection>
  /** The Redis channel of a broker channel. */
  readonly channelKey: (channel: string) => string
  /** Where listener errors go. */
  readonly onError: (error: TaskwireError) => void
}

/**
 * The listeners of each channel in this process, over one pub/sub connection: each channel
 * is subscribed once in Redis however many listeners it has here, so `PUBLISH` counts
 * processes, and is unsubscribed with its last listener.
 */
export class ChannelListeners {
  readonly #options: ChannelListenersOptions
  readonly #listeners = new Map<string, Set<(message: string) => void>>()
  /** Channels subscribed in Redis. */
  readonly #subscribed = new Set<string>()
  /** Subscribes and unsubscribes run one after the other, each on the state it finds. */
  #queue: Promise<void> = Promise.resolve()

  /**
   * @param options - the connection, the channel naming and the error sink
   */
  constructor(options: ChannelListenersOptions) {
    this.#options = options
  }

  /**
   * Adds a listener, and subscribes the channel in Redis if it has none yet here.
   *
   * @param channel - the channel
   * @param listener - called with each message
   * @returns resolves, once subscribed, with a function that removes the listener
   */
  async add(channel: string, listener: (message: string) => void): Promise<() => void> {
    let set = this.#listeners.get(channel)
    if (!set) {
      set = new Set()
      this.#listeners.set(channel, set)
    }
    // A wrapper per call, so the same function added twice is two listeners.
    const entry = (message: string): void => listener(message)
    set.add(entry)
    const remove = (): void => {
      const current = this.#listeners.get(channel)
      if (!current?.delete(entry) || current.size > 0) return
      this.#listeners.delete(channel)
      this.#sync(channel).catch(() => {
        // Unsubscribing failed with the connection; the channel is resubscribed on
        // reconnection and its messages find no listener, until the next add or close.
      })
    }
    try {
      await this.#sync(channel)
    } catch (error) {
      remove()
      throw error
    }
    return remove
  }

  /** Channels with listeners here. */
  get size(): number {
    return this.#listeners.size
  }

  /** Forgets every listener; the caller closes the connection. */
  clear(): void {
    this.#listeners.clear()
    this.#subscribed.clear()
  }

  #sync(channel: string): Promise<void> {
    const run = this.#queue.then(async () => {
      const wanted = this.#listeners.has(channel)
      const has = this.#subscribed.has(channel)
      if (wanted === has) return
      const connection = await this.#options.connection()
      const key = this.#options.channelKey(channel)
      if (wanted) {
        await connection.subscribe(key, (message) => this.#dispatch(channel, message))
        this.#subscribed.add(channel)
      } else {
        await connection.unsubscribe(key)
        this.#subscribed.delete(channel)
      }
    })
    this.#queue = run.catch(() => {})
    return run
  }

  #dispatch(channel: string, message: string): void {
    const set = this.#listeners.get(channel)
    if (!set) return
    for (const listener of [...set]) {
      // Removed by an earlier listener of this message: not told.
      if (!set.has(listener)) continue
      try {
        listener(message)
      } catch (cause) {
        this.#options.onError(
          new TaskwireError('broker', `A listener of channel ${JSON.stringify(channel)} threw.`, { cause }),
        )
      }
    }
  }
}
