import { createClient, ErrorReply } from 'redis'
import { TaskwireError } from '../core/index.js'
import type {
  ConnectionOverrides,
  OwnedRedisConnection,
  RedisConnection,
  ResolvedRedisBrokerOptions,
} from './options.js'

/** The longest wait between two reconnection attempts, in milliseconds. */
const MAX_RECONNECT_DELAY_MS = 2000

/**
 * Tells a failure of the connection (down, reconnecting, closed: reported once per outage by
 * the clients' `error` events) from an error Redis answered (a script error, `OOM`, a denied
 * command), which says something about the call itself.
 *
 * @param error - what a command rejected with
 * @returns true when Redis itself answered with an error
 */
export function isReplyError(error: unknown): boolean {
  return error instanceof ErrorReply
}

/** The three roles of the broker's connections, used in its error messages and names. */
type Role = 'command' | 'reader' | 'listener'

/** The connections of one broker, and what it tells `onError` about them. */
export interface Connections {
  /** Where commands go: the client given, or one the broker opened. */
  readonly command: RedisConnection
  /** The connection that blocks on `XREAD`, named `<prefix>reader`. */
  readonly reader: OwnedRedisConnection
  /**
   * The pub/sub connection, opened on first use.
   *
   * @returns the connected listener connection
   */
  listener(): Promise<OwnedRedisConnection>
  /** Closes what the broker opened and stops listening to the client it was given. */
  close(): Promise<void>
}

/**
 * A name Redis accepts for `CLIENT SETNAME`: it refuses spaces and control characters, which
 * a prefix may hold.
 *
 * @param prefix - the broker's prefix
 * @param role - the connection's role
 * @returns `<prefix><role>`, with each character Redis refuses replaced by `_`
 */
export function connectionName(prefix: string, role: Role): string {
  return `${prefix}${role}`.replace(/[^\x21-\x7e]/g, '_')
}

/**
 * Opens the connections of a broker: its command connection (unless a client was given),
 * its blocking reader, and later its listener, each failing commands at once while
 * disconnected and reconnecting by itself with a capped backoff. A connection that never
 * came up does not retry: the call that opened it fails instead.
 *
 * @param config - the resolved options
 * @returns the connected connections
 * @throws {@link taskwire!TaskwireError} `broker-unavailable` when Redis cannot be reached
 */
export async function openConnections(config: ResolvedRedisBrokerOptions): Promise<Connections> {
  // One outage is one report, however many connections fail and however many times each
  // retries: a connection joins `down` at its first error and leaves it when ready again.
  const down = new Set<Role>()
  let started = false
  let closed = false
  const detachers: (() => void)[] = []
  const owned: OwnedRedisConnection[] = []
  const given = config.client
  const duplicate = (overrides: ConnectionOverrides): OwnedRedisConnection =>
    given ? given.duplicate(overrides) : createClient({ url: config.url, ...overrides })

  const watch = (role: Role, connection: RedisConnection): void => {
    const onError = (error: Error): void => {
      if (!started || closed) return
      if (down.size === 0) {
        config.onError(
          new TaskwireError(
            'broker-unavailable',
            `Lost the connection to Redis (${role}): ${error.message}. Reconnecting; calls fail with 503 broker-unavailable until it is back.`,
            { cause: error },
          ),
        )
      }
      down.add(role)
    }
    const onReady = (): void => {
      down.delete(role)
    }
    connection.on('error', onError)
    connection.on('ready', onReady)
    detachers.push(() => {
      connection.off('error', onError)
      connection.off('ready', onReady)
    })
  }

  const open = async (role: Role): Promise<OwnedRedisConnection> => {
    let everReady = false
    // Retries only once the connection was up: a first connection that fails fails the call.
    const reconnectStrategy = (retries: number): number | false =>
      everReady ? Math.min(50 * 2 ** Math.min(retries, 10), MAX_RECONNECT_DELAY_MS) : false
    const connection = duplicate({
      disableOfflineQueue: true,
      name: connectionName(config.prefix, role),
      socket: { ...(config.client?.options?.socket ?? {}), reconnectStrategy },
    })
    connection.on('ready', () => {
      everReady = true
    })
    // Also what keeps node-redis from throwing its `error` events as uncaught.
    watch(role, connection)
    try {
      await connection.connect()
    } catch (cause) {
      connection.destroy()
      throw new TaskwireError(
        'broker-unavailable',
        `Could not connect to Redis (${role}): ${cause instanceof Error ? cause.message : String(cause)}.`,
        { cause },
      )
    }
    if (closed) {
      connection.destroy()
      throw new TaskwireError('broker', 'The Redis broker is closed; create a new one.')
    }
    owned.push(connection)
    return connection
  }

  let command: RedisConnection
  let reader: OwnedRedisConnection
  try {
    if (given) {
      command = given
      watch('command', given)
    } else {
      command = await open('command')
    }
    reader = await open('reader')
  } catch (error) {
    for (const detach of detachers) detach()
    for (const connection of owned) connection.destroy()
    throw error
  }
  started = true

  let listener: Promise<OwnedRedisConnection> | undefined
  return {
    command,
    reader,
    listener() {
      if (!listener) {
        listener = open('listener').catch((error: unknown) => {
          // Not kept: the next `listen` tries again.
          listener = undefined
          throw error
        })
      }
      return listener
    },
    async close() {
      closed = true
      await Promise.all(
        owned.map(async (connection) => {
          // A blocked read would hold a graceful close for up to blockMs: the reader is cut.
          if (connection === reader || !connection.isReady) connection.destroy()
          else await connection.close().catch(() => connection.destroy())
        }),
      )
      for (const detach of detachers) detach()
    },
  }
}
