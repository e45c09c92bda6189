import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { connect, fetchTransport } from '../../src/client/index.js'
import { isTaskwireError, TaskwireHttpError } from '../../src/core/index.js'
import { createRedisBroker, type RedisBroker } from '../../src/redis/index.js'
import { createHub, type Hub, serveNode } from '../../src/server/index.js'
import { until } from '../client/until.js'
import { view } from '../helpers/child-server.js'
import { redisRequired } from '../helpers/redis.js'

const redisServer = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
})()
if (!redisServer) {
  if (redisRequired) throw new Error('TASKWIRE_REQUIRE_REDIS=1 but redis-server is not installed.')
  console.warn('Skipping the Redis outage suite: redis-server is not installed.')
}

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function freePort(): Promise<number> {
  const server = createTcpServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (!address || typeof address === 'string') throw new Error('no port')
  return address.port
}

/**
 * A redis-server of the test's own, on its own port, keeping its data in an append-only
 * file so that a restart finds the log as it was (what a production Redis does).
 */
function dedicatedRedis(
  port: number,
  dir: string,
): { start: () => Promise<void>; stop: () => Promise<void> } {
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn(
      redisServer ?? 'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let output = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000)
      child?.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer)
          resolve()
        }
      })
      child?.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)))
    })
  }
  const stop = async (): Promise<void> => {
    const running = child
    child = undefined
    if (!running || running.exitCode !== null) return
    running.kill('SIGTERM')
    await once(running, 'exit')
  }
  return { start, stop }
}

describe.skipIf(!redisServer)('a Redis outage in the middle of a run', () => {
  it('keeps subscribers connected, refuses publishes with a typed 503, and resumes delivery without loss', async () => {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-redis-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const redis = dedicatedRedis(port, dir)
    await redis.start()
    cleanups.push(redis.stop)
    const brokerErrors: unknown[] = []
    const broker: RedisBroker = await createRedisBroker({
      url: `redis://127.0.0.1:${port}`,
      prefix: 'outage:',
      onError: (error) => brokerErrors.push(error),
    })
    cleanups.push(() => broker.close())
    const errors: unknown[] = []
    const hub: Hub = createHub({
      broker,
      heartbeatMs: 200,
      retryMs: 50,
      onError: (error) => errors.push(error),
    })
    cleanups.push(() => hub.close())
    const server = createHttpServer((req, res) => void serveNode(hub, req, res, { stream: 'run' }))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    cleanups.push(() => server.close())
    const address = server.address()
    if (!address || typeof address === 'string') throw new Error('no port')

    const handle = connect(`http://127.0.0.1:${address.port}/`, {
      transport: fetchTransport,
      onError: () => {},
      heartbeatTimeoutMs: 1000,
    })
    cleanups.push(() => handle.close())
    const { store, ids, resyncs } = view(handle)
    const progress = (percent: number) => hub.publish('run', 'task.progress', { taskId: 't', percent })

    await hub.publish('run', 'run.started', {})
    for (let n = 1; n <= 5; n++) await progress(n)
    await until(handle, () => ids.length === 6)

    await redis.stop()
    const down = await progress(6).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(down).toBeInstanceOf(TaskwireHttpError)
    expect(isTaskwireError(down) && down.code).toBe('broker-unavailable')
    expect((down as TaskwireHttpError).status).toBe(503)
    // A new viewer meanwhile is told to come back, before any stream byte.
    const refused = await fetch(`http://127.0.0.1:${address.port}/`)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
    await refused.body?.cancel()
    // Three heartbeat timeouts of silence from Redis: the client stays on its connection.
    const statuses = new Set<string>()
    for (let tick = 0; tick < 30; tick++) {
      statuses.add(handle.status)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect([...statuses]).toEqual(['open'])
    expect(resyncs).toEqual([{ kind: 'fresh' }])

    await redis.start()
    // Publishes are accepted again once the broker has reconnected (bounded retries).
    let accepted = false
    for (let attempt = 0; attempt < 100 && !accepted; attempt++) {
      accepted = await progress(6).then(
        () => true,
        () => false,
      )
      if (!accepted) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(accepted).toBe(true)
    for (let n = 7; n <= 9; n++) await progress(n)
    await hub.publish('run', 'run.completed', {})
    await until(handle, () => store.getState().status === 'completed', 15_000)

    const log = (await broker.read('run', null)).events
    expect(log).toHaveLength(11)
    expect(ids).toEqual(log.map((event) => event.id))
    expect(store.getState().tasks[0]?.percent).toBe(9)
    expect(resyncs).toEqual([{ kind: 'fresh' }])
    // Reported, once per connection and outage, not once per retry.
    expect(brokerErrors.length).toBeGreaterThan(0)
    expect(brokerErrors.length).toBeLessThanOrEqual(3)
    for (const error of brokerErrors) expect(isTaskwireError(error) && error.code).toBe('broker-unavailable')
  }, 60_000)
})
