import { type Envelope, type Framing, isSeenEventId } from '../core/index.js'
import type { FrameCache } from './frame-cache.js'

/** The frames a subscriber is owed from a run of events, and where that leaves it. */
export interface OwedFrames {
  /** The frames, joined. */
  text: string
  /** The id of the last event written, or the cursor when none was. */
  lastId: string | null
  /** True when a terminal event was among them: nothing may follow. */
  ended: boolean
}

/**
 * The frames of the events a reader at `lastId` has not seen, up to and including the first
 * terminal event: the one rule for the replay, the events kept before a subscriber started
 * and each live batch, so a stream never writes past its end.
 *
 * @param events - events in id order
 * @param lastId - the reader's last id; events not after it are skipped
 * @param framing - how frames name their event
 * @param frames - the frame cache
 * @param isTerminal - whether an event type ends the stream
 * @returns the frames, the new last id and whether the stream ended
 */
export function framesThroughTerminal(
  events: readonly Envelope[],
  lastId: string | null,
  framing: Framing,
  frames: FrameCache,
  isTerminal: (type: string) => boolean,
): OwedFrames {
  let text = ''
  let last = lastId
  for (const event of events) {
    if (isSeenEventId(event.id, last)) continue
    text += frames.frame(event, framing)
    last = event.id
    if (isTerminal(event.type)) return { text, lastId: last, ended: true }
  }
  return { text, lastId: last, ended: false }
}
