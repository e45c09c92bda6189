import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createHub, type Subscription } from '../../src/server/index.js'
import { nextTurn } from './hub-fixtures.js'
import { seq } from './ids.js'
import { createTestSink, type TestSink } from './test-sink.js'

type Operation =
  | { kind: 'publish'; count: number }
  | { kind: 'turn' }
  | {
      kind: 'subscribe'
      cursor: 'none' | 'latest' | 'behind' | 'ahead' | 'garbage'
      behind: number
      startNow: boolean
    }
  | { kind: 'start'; pick: number }
  | { kind: 'close'; pick: number }
  | { kind: 'stall'; pick: number }

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('publish' as const), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('turn' as const) }),
  fc.record({
    kind: fc.constant('subscribe' as const),
    cursor: fc.constantFrom(
      'none' as const,
      'latest' as const,
      'behind' as const,
      'ahead' as const,
      'garbage' as const,
    ),
    behind: fc.integer({ min: 0, max: 12 }),
    startNow: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('start' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('close' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('stall' as const), pick: fc.nat() }),
)

interface Viewer {
  cursor: string | null
  subscription: Subscription
  sink: TestSink | undefined
}

/** Checks what one viewer received: a contiguous run of ids, led by a reset or a snapshot when one came. */
function checkViewer(viewer: Viewer, lastId: number): void {
  const sink = viewer.sink
  if (!sink) return
  const envelopes = sink.envelopes()
  if (envelopes.length === 0) return
  const [first, ...rest] = envelopes
  let expected: number
  if (first?.type === 'stream.reset' || first?.type === 'stream.snapshot') {
    expected = Number(seq(first.id)) + 1
    expect(viewer.cursor === null || first.type === 'stream.reset').toBe(true)
  } else {
    expected = viewer.cursor === null ? 1 : Number(viewer.cursor) + 1
    expect(Number(seq(first?.id))).toBe(expected)
    expected++
  }
  for (const envelope of rest) {
    expect(Number(seq(envelope.id))).toBe(expected)
    expected++
  }
  expect(expected - 1).toBeLessThanOrEqual(lastId)
}

describe('hub under random interleavings', () => {
  it('gives every viewer a contiguous run of events, and leaves nothing behind', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 60 }),
        fc.boolean(),
        async (ops, snapshot) => {
          const hub = createHub({
            heartbeatMs: false,
            replay: { maxEvents: 10 },
            snapshotOnConnect: snapshot,
            highWaterMarkBytes: 64 * 1024,
            onError: (error) => {
              throw error
            },
          })
          const viewers: Viewer[] = []
          let lastId = 0
          // Until the first event, a cursor with any epoch is one the stream never issued.
          let epoch = '1'
          const publish = async (): Promise<void> => {
            const event = await hub.publish('s', 'task.progress', {
              taskId: 't',
              percent: (lastId % 100) + 0.5,
            })
            epoch = event.id.slice(0, event.id.indexOf('-'))
            lastId++
          }
          for (const op of ops) {
            if (op.kind === 'publish') {
              for (let i = 0; i < op.count; i++) await publish()
            } else if (op.kind === 'turn') {
              await nextTurn()
            } else if (op.kind === 'subscribe') {
              const at =
                op.cursor === 'none'
                  ? null
                  : op.cursor === 'latest'
                    ? lastId
                    : op.cursor === 'behind'
                      ? Math.max(0, lastId - op.behind)
                      : op.cursor === 'ahead'
                        ? lastId + 1 + op.behind
                        : 'garbage'
              const cursor = at === null || at === 'garbage' ? at : at === 0 ? '0' : `${epoch}-${at}`
              const subscription = await hub.subscribe('s', { lastEventId: cursor })
              if (!subscription) throw new Error('the stream has no terminal event yet')
              const viewer: Viewer = {
                cursor:
                  at === 'garbage' || (at !== null && at > lastId)
                    ? 'unknown'
                    : at === null
                      ? null
                      : String(at),
                subscription,
                sink: undefined,
              }
              viewers.push(viewer)
              if (op.startNow) {
                viewer.sink = createTestSink()
                subscription.start(viewer.sink)
              }
            } else {
              const viewer = viewers[op.pick % Math.max(1, viewers.length)]
              if (!viewer) continue
              if (op.kind === 'start' && !viewer.sink) {
                viewer.sink = createTestSink()
                viewer.subscription.start(viewer.sink)
              } else if (op.kind === 'close') {
                viewer.subscription.close()
              } else if (op.kind === 'stall' && viewer.sink) {
                viewer.sink.buffered = 1024 * 1024
              }
            }
          }
          const end = await hub.publish('s', 'run.completed', {})
          epoch = end.id.slice(0, end.id.indexOf('-'))
          lastId++
          for (const viewer of viewers) {
            if (!viewer.sink) {
              viewer.sink = createTestSink()
              viewer.subscription.start(viewer.sink)
            }
          }
          await nextTurn()
          const reasons = await Promise.all(viewers.map((viewer) => viewer.subscription.ended))
          for (const [index, viewer] of viewers.entries()) {
            // A cursor the stream never issued always leads with a reset.
            if (viewer.cursor === 'unknown') {
              const first = viewer.sink?.envelopes()[0]
              if (first) expect(first.type).toBe('stream.reset')
              viewer.cursor = null
            }
            checkViewer(viewer, lastId)
            if (reasons[index] === 'terminal') {
              expect(viewer.sink?.envelopes().at(-1)).toMatchObject({
                type: 'run.completed',
                id: `${epoch}-${lastId}`,
              })
            } else {
              expect(['client', 'slow-consumer']).toContain(reasons[index])
            }
          }
          expect(hub.stats()).toEqual({ connections: 0, streams: 0, brokerListeners: 0, timers: 0 })
          await hub.close()
        },
      ),
      { numRuns: 300, seed: 20261121 },
    )
  })
})
