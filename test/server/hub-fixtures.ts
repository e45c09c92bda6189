import { afterEach } from 'vitest'
import {
  type Broker,
  createHub,
  createMemoryBroker,
  type Hub,
  type HubOptions,
  type MemoryBrokerOptions,
} from '../../src/server/index.js'

/**
 * Gives a test file a hub factory whose hubs are closed after each test. The hubs have no
 * heartbeat and rethrow what they would report, so nothing fails unseen.
 *
 * @returns a function creating a hub with these defaults under the given options
 */
export function hubsClosedAfterEach(): (options?: HubOptions) => Hub {
  const hubs: Hub[] = []
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.close()
  })
  return (options = {}) => {
    const hub = createHub({
      heartbeatMs: false,
      onError: (error) => {
        throw error
      },
      ...options,
    })
    hubs.push(hub)
    return hub
  }
}

/** A memory broker that counts the listeners it holds, to prove a hub leaves none behind. */
export interface CountingBroker extends Broker {
  /** Listeners subscribed and not yet unsubscribed. */
  listeners(): number
  /** Whether close() was called. */
  closed(): boolean
}

/**
 * Wraps a memory broker to count its listeners.
 *
 * @param options - the memory broker's options
 * @returns the counting broker
 */
export function createCountingBroker(options: MemoryBrokerOptions = {}): CountingBroker {
  const inner = createMemoryBroker(options)
  let listeners = 0
  let closed = false
  return {
    ...inner,
    async subscribe(stream, afterId, listener) {
      const stop = await inner.subscribe(stream, afterId, listener)
      listeners++
      let active = true
      return () => {
        if (active) listeners--
        active = false
        stop()
      }
    },
    async close() {
      closed = true
      await inner.close()
    },
    listeners: () => listeners,
    closed: () => closed,
  }
}

/**
 * A deterministic pseudo-random generator (a linear congruential one), so a failing run
 * can be replayed.
 *
 * @param seed - the seed
 * @returns a function giving integers in [0, max)
 */
export function seededRandom(seed: number): (max: number) => number {
  let state = seed >>> 0
  return (max) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state % max
  }
}

/** Resolves on the next macrotask, letting a turn of the event loop end (not a sleep). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
