import type { RedisArgument } from 'redis'
import { describe, expect, it } from 'vitest'
import type { OwnedRedisConnection } from '../../src/redis/options.js'
import { StreamReader } from '../../src/redis/stream-reader.js'
import type { StoredEvent } from '../../src/server/index.js'

const WAIT_MS = 2000

const entry = (id: string): [string, string[]] => [id, ['type', 'task.created', 'ts', 'ts', 'data', '{}']]

/**
 * A connection that answers the reader's commands from a script: each `TAIL` and `XREAD`
 * takes the next reply of its kind, and an `XREAD` with none left waits until destroyed.
 */
function scriptedConnection(replies: { tail: unknown[]; xread: unknown[] }): {
  connection: OwnedRedisConnection
  commands: string[][]
} {
  const commands: string[][] = []
  let destroyed: (() => void) | undefined
  const connection: OwnedRedisConnection = {
    isOpen: true,
    isReady: true,
    async sendCommand(args: readonly RedisArgument[]) {
      const command = args.map(String)
      commands.push(command)
      if (command[0] === 'EVALSHA') return replies.tail.shift()
      if (command[0] === 'XREAD') {
        if (replies.xread.length > 0) return replies.xread.shift()
        return new Promise((_, reject) => {
          destroyed = () => reject(new Error('destroyed'))
        })
      }
      throw new Error(`unexpected command ${command[0]}`)
    },
    on: () => undefined,
    off: () => undefined,
    connect: async () => undefined,
    subscribe: async () => {},
    unsubscribe: async () => {},
    close: async () => {},
    destroy: () => destroyed?.(),
  }
  return { connection, commands }
}

describe('StreamReader', () => {
  it('tells a gap when an entry number skips ahead or starts again, then goes on', async () => {
    const { connection, commands } = scriptedConnection({
      // The checked read from the subscription's cursor 1-3: entries 4 and 5, none trimmed.
      tail: [[['1-5', '1-1', 1, [entry('1-4'), entry('1-5')]]]],
      xread: [
        // Entries 6 to 8 were trimmed before this read: a gap, then entry 9.
        new Map([['k', [entry('2-9')]]]),
        // The log started again (its key expired): numbered from 1 anew.
        new Map([['k', [entry('5-1'), entry('5-2')]]]),
      ],
    })
    const told: string[] = []
    const reader = new StreamReader({
      connection,
      wakeKey: 'wake',
      wake: async () => {},
      blockMs: 1000,
      onError: (error) => told.push(`error ${error.message}`),
    })
    let done: () => void = () => {}
    const all = new Promise<void>((resolve) => {
      done = resolve
    })
    const stop = reader.add('s', 'k', '1-3', {
      event: (event: StoredEvent) => {
        told.push(event.id)
        if (event.id === '5-2') done()
      },
      gap: (reason) => told.push(reason),
    })
    const timer = setTimeout(done, WAIT_MS)
    await all
    clearTimeout(timer)
    stop()
    connection.destroy()
    await reader.close()
    expect(told).toEqual(['1-4', '1-5', 'cursor-expired', '2-9', 'cursor-unknown', '5-1', '5-2'])
    // The blocking reads asked for the stream from the last id delivered, and the wake key.
    const reads = commands.filter((command) => command[0] === 'XREAD')
    expect(reads[0]?.slice(-4)).toEqual(['k', 'wake', '1-5', '0-0'])
    expect(reads[1]?.slice(-4)).toEqual(['k', 'wake', '2-9', '0-0'])
  })

  it('sends no command while nothing is subscribed', async () => {
    const { connection, commands } = scriptedConnection({ tail: [], xread: [] })
    const reader = new StreamReader({
      connection,
      wakeKey: 'wake',
      wake: async () => {},
      blockMs: 1000,
      onError: () => {},
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    await reader.close()
    expect(commands).toEqual([])
  })
})
