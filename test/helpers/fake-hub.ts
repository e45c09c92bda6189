import type { AccessRequest, AccessResult } from '../../src/server/access.js'
import type {
  SubscribeOptions,
  SubscriberSink,
  Subscription,
  SubscriptionEndReason,
} from '../../src/server/types.js'

/** A subscription the test drives by hand: it records its sink and how it ended. */
export interface FakeSubscription extends Subscription {
  /** The sink given to `start`, once started. */
  sink: SubscriberSink | undefined
  /** How many times `close()` was called. */
  closeCalls: number
  /** Ends the subscription as the hub would, with a reason. */
  endAs(reason: SubscriptionEndReason): void
}

/**
 * Makes a subscription that resolves `ended` with `'client'` on `close()`.
 *
 * @param stream - its stream
 * @returns the subscription
 */
export function fakeSubscription(stream: string): FakeSubscription {
  let resolveEnded: (reason: SubscriptionEndReason) => void = () => undefined
  let settled = false
  const ended = new Promise<SubscriptionEndReason>((resolve) => {
    resolveEnded = resolve
  })
  const subscription: FakeSubscription = {
    stream,
    sink: undefined,
    closeCalls: 0,
    ended,
    start(sink) {
      subscription.sink = sink
    },
    close() {
      subscription.closeCalls++
      subscription.endAs('client')
    },
    endAs(reason) {
      if (settled) return
      settled = true
      resolveEnded(reason)
    },
  }
  return subscription
}

/** A stand-in for `Hub.authorize` and `Hub.subscribe` whose answers each test picks. */
export interface FakeHub {
  subscribe(stream: string, options?: SubscribeOptions): Promise<Subscription | null>
  authorize(access: AccessRequest): Promise<AccessResult>
  /** What the next `authorize` decides; by default it admits without a key. */
  policy: (access: AccessRequest) => Promise<AccessResult>
  /** Every `authorize` call. */
  accesses: AccessRequest[]
  /** What the next `subscribe` does; by default it admits with a fresh fake subscription. */
  answer: (stream: string) => Promise<Subscription | null>
  /** Every call, with its options. */
  calls: { stream: string; options: SubscribeOptions | undefined }[]
  /** Every subscription handed out. */
  subscriptions: FakeSubscription[]
}

/**
 * Makes a fake hub for adapter unit tests: cast it with `as unknown as Hub` (the HTTP stream
 * adapters only call `authorize` and `subscribe`).
 *
 * @returns the fake
 */
export function fakeHub(): FakeHub {
  const hub: FakeHub = {
    calls: [],
    subscriptions: [],
    accesses: [],
    policy: async () => ({ ok: true, key: undefined }),
    authorize(access) {
      hub.accesses.push(access)
      return hub.policy(access)
    },
    answer: async (stream) => {
      const subscription = fakeSubscription(stream)
      hub.subscriptions.push(subscription)
      return subscription
    },
    subscribe(stream, options) {
      hub.calls.push({ stream, options })
      return hub.answer(stream)
    },
  }
  return hub
}
