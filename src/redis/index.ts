/**
 * A broker on Redis Streams, for running the taskwire hub in several processes behind a
 * load balancer: each process accepts any client, publishes to any stream and replays any
 * stream from the shared log, with the ids Redis assigns. Claims (an execution's
 * idempotency key and owner), state checkpoints and cancel channels live in Redis too.
 * Needs Redis 6.2 or newer and the `redis` package (node-redis 5 or 6), a peer dependency.
 *
 * @example
 * ```ts
 * import { createHub } from 'taskwire/server'
 * import { createRedisBroker } from 'taskwire/redis'
 *
 * const broker = await createRedisBroker({ url: process.env.REDIS_URL, prefix: 'myapp:' })
 * const hub = createHub({ broker })
 * ```
 *
 * @module taskwire/redis
 */

export type {
  ConnectionOverrides,
  OwnedRedisConnection,
  RedisBrokerOptions,
  RedisClientLike,
  RedisConnection,
} from './options.js'
export type { RedisBroker, RedisBrokerStats } from './redis-broker.js'
export { createRedisBroker } from './redis-broker.js'
