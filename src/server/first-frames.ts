import type { Envelope, Framing, RunState } from '../core/index.js'
import { exceedsUtf8Bytes, type FrameCache } from './frame-cache.js'
import type { Sub } from './hub-fanout.js'
import type { SnapshotMeta } from './hub-options.js'
import type { StateKeeper } from './hub-state.js'
import { framesThroughTerminal } from './through-terminal.js'
import type { Broker } from './types.js'

/** What {@link createFirstFrames} needs from its hub. */
export interface FirstFramesOptions {
  /** The broker, for the replay. */
  broker: Broker
  /** The state keeper, for snapshots and resets. */
  keeper: StateKeeper
  /** The frame cache. */
  frames: FrameCache
  /** Whether an event type ends a stream. */
  isTerminal: (type: string) => boolean
  /** Whether a subscriber without a cursor gets a snapshot first, and its `meta`. */
  snapshotOnConnect: boolean | SnapshotMeta
  /** The largest snapshot frame sent whole, or false. */
  maxSnapshotBytes: number | false
  /** The hub's clock, for the `ts` of snapshots and resets. */
  now: () => number
}

/**
 * Prepares what a subscriber is written before live events: a snapshot, a reset or the
 * replay after its cursor.
 *
 * @param sub - the admitted subscriber; its `initial`, `lastId` and `initialTerminal` are set
 * @param cursor - the subscriber's `Last-Event-ID`, or null
 * @returns false when the stream has ended and nothing follows the cursor (HTTP 204)
 */
export type PrepareFirstFrames = (sub: Sub, cursor: string | null) => Promise<boolean>

/** The tasks, agents and nodes a snapshot too large to send leaves out. */
const EMPTIED: Partial<RunState> = {
  tasks: [],
  agents: {},
  agentOrder: [],
  nodes: {},
  nodeOrder: [],
  output: undefined,
  meta: {},
}

/**
 * Creates the preparer of first frames.
 *
 * @param options - the broker, keeper, frames and snapshot settings
 * @returns the preparer
 */
export function createFirstFrames(options: FirstFramesOptions): PrepareFirstFrames {
  const { broker, keeper, frames, isTerminal, snapshotOnConnect } = options

  const stateEnvelope = (stream: string, type: string, state: RunState, data: unknown): Envelope => ({
    type,
    stream,
    // A stream without events has no id yet; "0" reads as "from the start" on resume.
    id: state.lastEventId ?? '0',
    ts: new Date(options.now()).toISOString(),
    data,
  })

  // A fold hands out the same state object until the next event, so the many viewers that
  // open one stream at once (a dashboard, a reconnect storm) share one serialized snapshot.
  const stateFrame = (sub: Sub, kind: string, state: RunState, data: () => unknown): string => {
    const entry = sub.entry
    if (entry.stateFrames?.state !== state) entry.stateFrames = { state, frames: new Map() }
    const key = `${sub.framing}\n${kind}`
    let frame = entry.stateFrames.frames.get(key)
    if (frame === undefined) {
      const type = kind.startsWith('stream.reset') ? 'stream.reset' : 'stream.snapshot'
      frame = frames.frame(stateEnvelope(sub.stream, type, state, data()), sub.framing)
      entry.stateFrames.frames.set(key, frame)
    }
    return frame
  }

  const tooLarge = (frame: string): boolean =>
    options.maxSnapshotBytes !== false && exceedsUtf8Bytes(frame, options.maxSnapshotBytes)

  const replay = (sub: Sub, events: readonly Envelope[], cursor: string | null, framing: Framing): true => {
    const owed = framesThroughTerminal(events, cursor, framing, frames, isTerminal)
    sub.initial = owed.text
    sub.lastId = owed.lastId
    sub.initialTerminal = owed.ended
    return true
  }

  return async (sub, cursor) => {
    const { state, ended } = await keeper.state(sub.stream)
    const read = await broker.read(sub.stream, cursor)
    const wantsSnapshot = cursor === null && (snapshotOnConnect !== false || read.expired)
    if (ended && !read.expired && read.events.length === 0 && !wantsSnapshot) return false
    if (!wantsSnapshot && !read.expired) return replay(sub, read.events, cursor, sub.framing)
    let frame: string
    if (wantsSnapshot) {
      const meta = typeof snapshotOnConnect === 'function' ? await snapshotOnConnect(sub.stream) : undefined
      frame =
        meta === undefined
          ? stateFrame(sub, 'stream.snapshot', state, () => ({ state }))
          : frames.frame(stateEnvelope(sub.stream, 'stream.snapshot', state, { state, meta }), sub.framing)
    } else {
      const reason = read.reason ?? 'cursor-expired'
      frame = stateFrame(sub, `stream.reset:${reason}`, state, () => ({ state, reason }))
    }
    if (tooLarge(frame)) {
      // A complete log tells the whole run event by event, each within maxEventBytes.
      if (cursor === null && !read.expired) return replay(sub, read.events, cursor, sub.framing)
      frame = stateFrame(sub, 'stream.reset:snapshot-too-large', state, () => ({
        state: { ...state, ...EMPTIED },
        reason: 'snapshot-too-large',
      }))
    }
    sub.initial = frame
    sub.lastId = state.lastEventId
    sub.initialTerminal = ended
    return true
  }
}
