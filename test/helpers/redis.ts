import { randomBytes } from 'node:crypto'
import { createClient } from 'redis'

/** The Redis the tests use: `REDIS_URL`, or a local server on the default port. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** True when Redis must answer: a missing server fails the suites instead of skipping them. */
export const redisRequired = process.env.TASKWIRE_REQUIRE_REDIS === '1'

const PING_TIMEOUT_MS = 1000

/** Sends one PING with a connection that neither waits long nor retries. */
async function ping(url: string): Promise<string | undefined> {
  const client = createClient({
    url,
    socket: { connectTimeout: PING_TIMEOUT_MS, reconnectStrategy: false },
    disableOfflineQueue: true,
  })
  client.on('error', () => {})
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS)
  })
  try {
    await Promise.race([client.connect(), timeout])
    const answer = await Promise.race([client.ping(), timeout])
    return answer === 'PONG' ? undefined : `PING answered ${String(answer)}`
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    clearTimeout(timer)
    client.destroy()
  }
}

/** Why Redis cannot be used, or undefined when it answered PING. */
export const redisSkipReason: string | undefined = await ping(redisUrl).then((problem) =>
  problem === undefined ? undefined : `no Redis at ${redisUrl} (${problem})`,
)

/** True when the Redis suites run: Redis answered PING within a second. */
export const redisAvailable = redisSkipReason === undefined

if (redisSkipReason !== undefined) {
  if (redisRequired) {
    throw new Error(`TASKWIRE_REQUIRE_REDIS=1 but ${redisSkipReason}; start Redis or unset it.`)
  }
  console.warn(`Skipping the Redis suites: ${redisSkipReason}. Set REDIS_URL to run them.`)
}

/**
 * A key prefix no other test run uses, so suites can share one server (and run in
 * parallel) without seeing each other's keys.
 *
 * @param label - a word naming the suite, for anyone reading the keys
 * @returns `tw-test:<label>:<random>:`
 */
export function freshPrefix(label = 'test'): string {
  return `tw-test:${label}:${randomBytes(6).toString('hex')}:`
}

/**
 * Deletes every key under a prefix (SCAN, then DEL in batches): what a suite leaves behind.
 *
 * @param prefix - the prefix given to the brokers
 * @param url - the server
 * @returns how many keys were deleted
 */
export async function deleteKeys(prefix: string, url = redisUrl): Promise<number> {
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  let deleted = 0
  try {
    // Bounded: SCAN ends when the cursor comes back to 0; the key count bounds the rounds.
    for await (const keys of client.scanIterator({ MATCH: `${globEscape(prefix)}*`, COUNT: 500 })) {
      if (keys.length > 0) deleted += await client.del(keys)
    }
  } finally {
    client.destroy()
  }
  return deleted
}

/** Escapes the characters SCAN's MATCH treats as a pattern. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}
