import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

/**
 * What every example application gives the playground (`npm start`) and its own test: a
 * node:http handler for its routes, a WebSocket upgrade handler when it has one, and a way to
 * close what it opened (hubs, brokers, databases, timers).
 */
export interface ExampleApp {
  /** The example's folder name under examples/ (`job-task-events`). */
  readonly name: string
  /**
   * Serves the request when its method and path are one of the example's routes.
   *
   * @returns false, having written nothing, when the route is not the example's
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean
  /**
   * Takes a WebSocket upgrade when its path is one of the example's.
   *
   * @returns false, having touched nothing, when the path is not the example's
   */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean
  /** Ends every stream and run, and closes hubs, brokers and databases. */
  close(): Promise<void>
}

/** What the playground passes to each example's factory. */
export interface ExampleOptions {
  /**
   * A Redis URL: the example's hub then uses the Redis broker (`taskwire/redis`), so every
   * process of a cluster serves every stream. Absent: the in-memory broker.
   */
  redisUrl?: string | undefined
  /**
   * Put before each example's own key prefix in Redis (`<redisPrefix><example>:`), so test
   * runs and deployments can share one server.
   * @defaultValue `'taskwire-example:'`
   */
  redisPrefix?: string | undefined
  /** A PostgreSQL URL for examples that keep data in a database. Absent: embedded PGlite. */
  databaseUrl?: string | undefined
  /**
   * Scales every simulated delay (1 = real-time pace, 0 = as fast as possible). Tests pass 0
   * or a small factor.
   */
  pace?: number | undefined
  /** Where the example prints what it does; absent: nowhere. */
  log?: ((line: string) => void) | undefined
}

/**
 * The Redis key prefix of one example: `taskwire-example:<name>:` unless `redisPrefix` says
 * otherwise.
 *
 * @param options - the example's options
 * @param name - the example's folder name
 * @returns the prefix to give `createRedisBroker`
 */
export function redisPrefixOf(options: ExampleOptions, name: string): string {
  return `${options.redisPrefix ?? 'taskwire-example:'}${name}:`
}
