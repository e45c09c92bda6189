import { once } from 'node:events'
import { type IncomingMessage, request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { type ConnectionStatus, connect, createRunStore } from 'taskwire/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  deleteKeys,
  freshPrefix,
  redisAvailable,
  redisSkipReason,
  redisUrl,
} from '../../test/helpers/redis.js'
import { type ForkedScript, forkScript } from './fork-script.js'
import type { PlaygroundInfo } from './playground.js'

const CLUSTER = fileURLToPath(new URL('./cluster.ts', import.meta.url))

/**
 * One HTTP exchange on a connection of its own (no keep-alive), so the cluster's balancer
 * routes it as a new client: to process A, then B, then A again.
 */
async function exchange(origin: string, method: string, path: string, body?: string): Promise<string> {
  const req = request(`${origin}${path}`, {
    method,
    agent: false,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  })
  req.end(body)
  const [res] = (await once(req, 'response')) as [IncomingMessage]
  let text = ''
  for await (const chunk of res) text += String(chunk)
  if ((res.statusCode ?? 0) >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`)
  return text
}

describe.skipIf(!redisAvailable)(
  `npm run start:cluster${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    const prefix = freshPrefix('playground-cluster')
    let cluster: ForkedScript
    let origin: string

    beforeAll(async () => {
      cluster = await forkScript(CLUSTER, {
        PORT: '0',
        REDIS_URL: redisUrl,
        REDIS_PREFIX: prefix,
        PACE: '0.5',
      })
      origin = cluster.origin
    }, 60_000)

    afterAll(async () => {
      await cluster?.stop()
      await deleteKeys(prefix)
    })

    it('keeps a run streaming when the process serving its stream is killed', {
      timeout: 60_000,
    }, async () => {
      // Connection 1 goes to A: which process is that?
      const a = JSON.parse(await exchange(origin, 'GET', '/api/playground')) as PlaygroundInfo
      expect(a.broker).toBe('redis')
      // Connection 2 goes to B, which runs the workflow.
      const started = JSON.parse(
        await exchange(origin, 'POST', '/api/workflows/demo/execute', '{"failureRate":0}'),
      ) as { executionId: string; events: string }

      // Connection 3 goes to A again: the stream is served by a process that is not running the workflow.
      const handle = connect(`${origin}${started.events}`)
      const run = createRunStore(handle)
      const ids: string[] = []
      const statuses: ConnectionStatus[] = []
      handle.on('*', (event) => ids.push(event.id))
      const ended = new Promise<void>((resolve) => {
        handle.onStatus((status) => {
          statuses.push(status)
          if (status === 'closed') resolve()
        })
      })
      const firstNodeDone = new Promise<void>((resolve) => {
        const off = handle.on('node.completed', () => {
          off()
          resolve()
        })
      })
      await firstNodeDone
      process.kill(a.pid, 'SIGKILL')

      await ended
      handle.close()
      expect(statuses).toContain('reconnecting')
      expect(run.getState().status).toBe('completed')
      expect(Object.values(run.getState().nodes).map((node) => node.status)).toEqual(
        Array(Object.keys(run.getState().nodes).length).fill('completed'),
      )
      // Every event once, in the log's order: the log, read back through the surviving process.
      const log = await exchange(origin, 'GET', started.events)
      const logIds = [...log.matchAll(/^id: (.+)$/gm)].map((match) => match[1])
      expect(ids).toEqual(logIds)
      // And the killed process is started again.
      for (let i = 0; i < 100 && !cluster.output().includes('starting it again'); i++)
        await new Promise((r) => setTimeout(r, 50))
      expect(cluster.output()).toContain(`(pid ${a.pid}) ended (SIGKILL); starting it again`)
    })
  },
)
