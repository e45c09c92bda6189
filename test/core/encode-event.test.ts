import { describe, expect, it } from 'vitest'
import {
  decodeEvent,
  defaultCatalog,
  type Envelope,
  encodeEvent,
  initialRunState,
  isTaskwireError,
  TaskwireError,
} from '../../src/core/index.js'
import { envelope, fold } from './support/events.js'
import { readText } from './support/sse.js'

const ts = '2026-11-21T10:00:00.000Z'
const status: Envelope = {
  type: 'task.status',
  stream: 'job-7',
  id: '3',
  ts,
  data: { taskId: 't1', status: 'completed' },
}

function thrown(run: () => unknown): TaskwireError {
  try {
    run()
  } catch (error) {
    if (error instanceof TaskwireError) return error
    throw error
  }
  throw new Error('expected a TaskwireError')
}

describe('encodeEvent', () => {
  it('writes id, the type as event name and the whole envelope as data (named framing by default)', () => {
    const json = JSON.stringify(status)
    expect(encodeEvent(status)).toBe(`id: 3\nevent: task.status\ndata: ${json}\n\n`)
    expect(encodeEvent(status, { framing: 'named' })).toBe(encodeEvent(status))
  })

  it('omits the event name under data-only framing, keeping the type inside the envelope', () => {
    const frame = encodeEvent(status, { framing: 'data-only' })
    expect(frame).toBe(`id: 3\ndata: ${JSON.stringify(status)}\n\n`)
    const [message] = readText(frame).events
    expect(message?.event).toBeUndefined()
    expect(JSON.parse(message?.data ?? '').type).toBe('task.status')
  })

  it('writes one data line whatever line breaks, U+2028 or NUL the payload holds', () => {
    const tricky: Envelope = {
      ...status,
      type: 'task.progress',
      data: { taskId: 't1', note: 'a\nb\r\nc\u2028d\0e' },
    }
    const frame = encodeEvent(tricky)
    expect(frame.split('\n').filter((line) => line.startsWith('data:'))).toHaveLength(1)
    const [message] = readText(frame).events
    expect(decodeEvent(message ?? { data: '' }, defaultCatalog)).toEqual({ ok: true, value: tricky })
  })

  it('rejects a type holding a line break under named framing (invalid-frame)', () => {
    expect(thrown(() => encodeEvent({ ...status, type: 'task\nstatus' })).code).toBe('invalid-frame')
  })

  it('rejects an id holding a line break under either framing (invalid-frame)', () => {
    expect(thrown(() => encodeEvent({ ...status, id: '3\n4' })).code).toBe('invalid-frame')
    expect(thrown(() => encodeEvent({ ...status, id: '3\r' }, { framing: 'data-only' })).code).toBe(
      'invalid-frame',
    )
  })

  it('reports a payload JSON cannot hold (BigInt, a cycle) as invalid-event, not a bare TypeError', () => {
    const big = thrown(() =>
      encodeEvent({ ...status, type: 'node.completed', data: { nodeId: 'n', output: 10n } }),
    )
    expect(big.code).toBe('invalid-event')
    expect(isTaskwireError(big)).toBe(true)
    expect(big.cause).toBeInstanceOf(TypeError)
    const cycle: Record<string, unknown> = { nodeId: 'n' }
    cycle.output = cycle
    expect(thrown(() => encodeEvent({ ...status, type: 'node.completed', data: cycle })).code).toBe(
      'invalid-event',
    )
  })

  it('writes snapshots that decode back, including outputs not produced yet', () => {
    // JSON drops `output: undefined`; the snapshot must still validate on the reading side.
    const state = fold([
      envelope('1', 'run.started', { nodes: [{ nodeId: 'a' }, { nodeId: 'b' }] }),
      envelope('2', 'node.completed', { nodeId: 'a', output: { ok: true } }),
    ])
    for (const snapshotState of [initialRunState, state]) {
      const snapshot: Envelope = {
        type: 'stream.snapshot',
        stream: 'run-1',
        id: '2',
        ts,
        data: { state: snapshotState },
      }
      const [message] = readText(encodeEvent(snapshot)).events
      const decoded = decodeEvent(message ?? { data: '' }, defaultCatalog)
      expect(decoded.ok).toBe(true)
      expect(decoded.ok && decoded.value).toEqual(snapshot)
    }
  })
})
