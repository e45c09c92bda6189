import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { connect, createRunStore, fetchTransport, type Resync } from '../../src/client/index.js'
import { until } from '../client/until.js'
import { type ChildServer, startChildServer } from '../helpers/child-server.js'

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/restart-server.ts')
const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})

/** Starts a server process and resolves with its port once it listens. */
async function startServer(env: Record<string, string>): Promise<ChildServer> {
  const server = await startChildServer(fixture, env)
  children.push(server.child)
  return server
}

describe('resuming across a server restart', () => {
  it('resets a client whose cursor came from the killed process, even once the new one has passed it', async () => {
    const first = await startServer({ TITLE: 'before restart', FILLER: '3' })
    const stream = connect(`http://127.0.0.1:${first.port}/events/job`, {
      transport: fetchTransport,
      onError: () => {},
      random: () => 0,
    })
    const run = createRunStore(stream)
    // Subscribed first, so the state is folded before the snapshot listeners below check it.
    run.subscribe(() => {})
    const resyncs: Resync[] = []
    stream.onResync((resync) => resyncs.push(resync))
    try {
      await until(
        stream,
        () => run.getState().tasks[0]?.title === 'before restart' && run.getState().tasks[0]?.percent === 2,
      )
      const cursor = stream.lastEventId
      expect(resyncs).toEqual([{ kind: 'fresh' }])
      first.child.kill('SIGKILL')
      await once(first.child, 'exit')
      // The new process numbers its log anew and publishes 81 events, past the old cursor.
      await startServer({ TITLE: 'after restart', FILLER: '80', PORT: String(first.port) })
      const resumed = await until(stream, () => run.getState().tasks[0]?.title === 'after restart', 20_000)
      expect(run.getState().tasks).toHaveLength(1)
      expect(run.getState().tasks[0]).toMatchObject({ id: 't1', title: 'after restart', percent: 79 })
      // Failed attempts while the server was down open nothing, so they report no resync.
      expect(resyncs).toEqual([{ kind: 'fresh' }, { kind: 'reset', reason: 'cursor-unknown' }])
      expect(stream.getSnapshot().resync).toEqual({ kind: 'reset', reason: 'cursor-unknown' })
      expect(resumed.lastEventId).not.toBe(cursor)
      expect(resumed.lastEventId?.endsWith('-81')).toBe(true)
    } finally {
      stream.close()
    }
  }, 60_000)
})
