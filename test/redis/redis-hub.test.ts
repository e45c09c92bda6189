import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createRedisBroker, type RedisBroker } from '../../src/redis/index.js'
import { createHub, type Hub } from '../../src/server/index.js'
import { deleteKeys, freshPrefix, redisAvailable, redisSkipReason, redisUrl } from '../helpers/redis.js'
import { createTestSink } from '../server/test-sink.js'

const prefix = freshPrefix('hub')
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  if (redisAvailable) await deleteKeys(prefix)
})

/** A hub on its own broker, as one server process of several on one Redis. */
async function processOnRedis(options: { maxLen?: number } = {}): Promise<{ hub: Hub; broker: RedisBroker }> {
  const broker = await createRedisBroker({ url: redisUrl, prefix, maxLen: options.maxLen ?? 10_000 })
  const hub = createHub({ broker, heartbeatMs: false })
  cleanups.push(async () => {
    await hub.close()
    await broker.close()
  })
  return { hub, broker }
}

let counter = 0
const fresh = (): string => `stream-${Date.now()}-${++counter}`

describe.skipIf(!redisAvailable)(
  `hubs on the Redis broker${redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''}`,
  () => {
    it('folds a run whose log was trimmed from the checkpoints another process wrote', async () => {
      const a = await processOnRedis({ maxLen: 100 })
      const stream = fresh()
      for (let n = 1; n <= 1200; n++) await a.hub.publish(stream, 'task.created', { taskId: `t${n}` })
      // The log holds about a hundred events; process A wrote checkpoints as it went.
      expect((await a.broker.read(stream, null)).expired).toBe(true)
      await a.hub.close() // writes the checkpoint still owed

      const b = await processOnRedis({ maxLen: 100 })
      const state = await b.hub.snapshot(stream)
      expect(state.tasks).toHaveLength(1200)
      expect(state.tasks.at(-1)?.id).toBe('t1200')
      const newest = (await b.broker.read(stream, null)).events.at(-1)?.id
      expect(state.lastEventId).toBe(newest)
    })

    it('sends a reader whose cursor fell out of the shared log a stream.reset with the whole state', async () => {
      const a = await processOnRedis({ maxLen: 100 })
      const b = await processOnRedis({ maxLen: 100 })
      const stream = fresh()
      const first = await a.hub.publish(stream, 'task.created', { taskId: 't1' })
      for (let n = 2; n <= 600; n++) await a.hub.publish(stream, 'task.created', { taskId: `t${n}` })
      const subscription = await b.hub.subscribe(stream, { lastEventId: first.id })
      const sink = createTestSink()
      subscription?.start(sink)
      const [reset] = sink.envelopes() as {
        type: string
        data: { reason: string; state: { tasks: unknown[] } }
      }[]
      expect(reset).toMatchObject({ type: 'stream.reset', data: { reason: 'cursor-expired' } })
      expect(reset?.data.state.tasks).toHaveLength(600)
      await a.hub.publish(stream, 'run.completed', {})
      expect(await subscription?.ended).toBe('terminal')
      expect(sink.envelopes().at(-1)?.type).toBe('run.completed')
    })

    it('replays on B what A published, then delivers it live, each frame once', async () => {
      const a = await processOnRedis()
      const b = await processOnRedis()
      const stream = fresh()
      const published = []
      for (let n = 1; n <= 5; n++)
        published.push(await a.hub.publish(stream, 'task.created', { taskId: `t${n}` }))
      const subscription = await b.hub.subscribe(stream, { lastEventId: published[1]?.id })
      const sink = createTestSink()
      subscription?.start(sink)
      for (let n = 6; n <= 8; n++)
        published.push(await a.hub.publish(stream, 'task.created', { taskId: `t${n}` }))
      await a.hub.publish(stream, 'run.completed', {})
      expect(await subscription?.ended).toBe('terminal')
      const ids = sink.envelopes().map((event) => event.id)
      expect(ids.slice(0, -1)).toEqual(published.slice(2).map((event) => event.id))
      // The publishing process serialized each payload; B wrote its frames from that text.
      expect(sink.envelopes()[0]).toEqual(published[2])
    })
  },
)
