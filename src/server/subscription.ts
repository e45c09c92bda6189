import type { FanOut, Sub } from './hub-fanout.js'
import type { SubscriberSink, Subscription, SubscriptionEndReason } from './types.js'

/** Told once when a subscription ends: the adapters' way to wait without a promise. */
export interface EndWatcher {
  /**
   * The subscription ended.
   *
   * @param reason - why
   */
  subscriptionEnded(reason: SubscriptionEndReason): void
}

/**
 * What `hub.subscribe` hands an adapter. A class rather than an object of closures, and
 * `ended` made only when someone asks for it: one is kept per open connection, and an
 * adapter that waits through {@link watchEnd} costs no promise.
 */
export class HubSubscription implements Subscription, EndWatcher {
  readonly stream: string
  readonly #fanOut: FanOut
  readonly #sub: Sub
  #ended: Promise<SubscriptionEndReason> | undefined
  #resolve: ((reason: SubscriptionEndReason) => void) | undefined
  #watcher: EndWatcher | undefined

  constructor(fanOut: FanOut, sub: Sub) {
    this.stream = sub.stream
    this.#fanOut = fanOut
    this.#sub = sub
    sub.watcher = this
  }

  get ended(): Promise<SubscriptionEndReason> {
    if (this.#ended === undefined) {
      const reason = this.#sub.endReason
      this.#ended =
        reason === undefined
          ? new Promise((resolve) => {
              this.#resolve = resolve
            })
          : Promise.resolve(reason)
    }
    return this.#ended
  }

  start(sink: SubscriberSink): void {
    this.#fanOut.start(this.#sub, sink)
  }

  close(): void {
    this.#fanOut.end(this.#sub, 'client')
  }

  subscriptionEnded(reason: SubscriptionEndReason): void {
    this.#resolve?.(reason)
    this.#watcher?.subscriptionEnded(reason)
  }

  /** Tells `watcher` when the subscription ends, at once if it has. */
  watch(watcher: EndWatcher): void {
    const reason = this.#sub.endReason
    if (reason === undefined) this.#watcher = watcher
    else watcher.subscriptionEnded(reason)
  }
}

/**
 * Tells `watcher` when a subscription ends: directly for the hub's own subscriptions, through
 * `ended` for any other.
 *
 * @param subscription - the subscription
 * @param watcher - told once, with the reason
 */
export function watchEnd(subscription: Subscription, watcher: EndWatcher): void {
  if (subscription instanceof HubSubscription) subscription.watch(watcher)
  else void subscription.ended.then((reason) => watcher.subscriptionEnded(reason))
}
