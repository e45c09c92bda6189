import { type Catalog, createRunFold, type RunState } from '../core/index.js'
import type { ScriptEvent, StreamController, StreamInfo } from './types.js'
import type { Wire } from './wire.js'

/** How {@link replayEvents} serves one connection. */
export interface ReplayPlan {
  /** The stream's events; the one at index `i` has sequence number `i + 1`. */
  readonly events: readonly ScriptEvent<Catalog>[]
  /** Sequence numbers never sent (lost in a gap); the state still holds them. */
  readonly lost?: ((seq: number) => boolean) | undefined
  /** The most events this connection sends before it is dropped; undefined for no bound. */
  readonly dropAfter?: number | undefined
  /** The sequence number to resume after instead of the request's cursor. */
  readonly from?: number | undefined
}

/**
 * How a replayed connection ended: `ended` after the terminal event or a 204, `live` when
 * every event was sent and the response stays open, `dropped` at the bound, `gone` when the
 * client left first; and how many events it sent.
 */
export interface ReplayOutcome {
  /** How it ended. */
  readonly end: 'ended' | 'live' | 'dropped' | 'gone'
  /** How many events it sent (a reset not counted). */
  readonly sent: number
}

/**
 * Serves a connection as the hub's replay does: the events after the request's cursor, up to
 * and including the first terminal event, then the end of the response; a cursor at or after
 * that terminal event gets a 204, and one the stream never issued a `stream.reset` with the
 * whole state (when the catalog has that type).
 *
 * @param wire - the connection's wire
 * @param controller - the script's controller, which sends
 * @param plan - the events, the ids lost, the drop bound
 * @returns how the connection ended and how many events it sent
 */
export async function replayEvents(
  wire: Wire,
  controller: StreamController<Catalog>,
  plan: ReplayPlan,
): Promise<ReplayOutcome> {
  const { events } = plan
  const terminalAt = events.findIndex((event) => wire.catalog.terminal.includes(event.type))
  const end = terminalAt === -1 ? events.length : terminalAt + 1
  let from = plan.from ?? cursorSeq(wire, wire.info, events.length)
  if (from === undefined) {
    // A cursor this stream never issued: the hub resets the reader to the whole state.
    if (!wire.catalog.has('stream.reset')) from = 0
    else {
      await sendReset(wire, controller, events, events.length, 'cursor-unknown')
      if (terminalAt !== -1) await controller.close()
      return { end: terminalAt === -1 ? 'live' : 'ended', sent: 0 }
    }
  }
  if (terminalAt !== -1 && from >= end) {
    // WHATWG HTML §9.2.3: a 204 tells an EventSource, and taskwire's client, to stop.
    await controller.respond(204)
    return { end: 'ended', sent: 0 }
  }
  // The hub writes a subscriber's replay in one write, so the client counts it as one batch.
  let text = ''
  let sent = 0
  let cut = false
  for (let seq = from + 1; seq <= end; seq++) {
    if (plan.lost?.(seq)) continue
    if (plan.dropAfter !== undefined && sent >= plan.dropAfter) {
      cut = true
      break
    }
    const event = events[seq - 1] as ScriptEvent<Catalog>
    text += wire.frame(wire.envelope(event.type, event.data, seq))
    sent++
  }
  if (text !== '') await controller.raw(text)
  if (cut) {
    await controller.drop()
    return { end: wire.signal.aborted ? 'gone' : 'dropped', sent }
  }
  if (wire.signal.aborted) return { end: 'gone', sent }
  if (terminalAt === -1) {
    await controller.open()
    return { end: 'live', sent }
  }
  // The hub ends each subscription after a terminal event.
  await controller.close()
  return { end: 'ended', sent }
}

/**
 * Sends the `stream.reset` a hub sends to a reader whose cursor it cannot serve: the state
 * folded from the first `through` events, with the id of the last of them.
 *
 * @param wire - the connection's wire
 * @param controller - the script's controller
 * @param events - the stream's events
 * @param through - how many events the state holds
 * @param reason - why the reader is reset
 */
export async function sendReset(
  wire: Wire,
  controller: StreamController<Catalog>,
  events: readonly ScriptEvent<Catalog>[],
  through: number,
  reason: 'cursor-expired' | 'cursor-unknown',
): Promise<void> {
  const fold = createRunFold()
  const ts = new Date().toISOString()
  for (let seq = 1; seq <= through; seq++) {
    const event = events[seq - 1] as ScriptEvent<Catalog>
    fold.apply({ type: event.type, stream: wire.info.stream, id: wire.ids.idFor(seq), ts, data: event.data })
  }
  const state: RunState = fold.state
  await controller.send('stream.reset', { state, reason }, { id: through })
}

/**
 * The sequence number a request resumes after.
 *
 * @returns 0 without a cursor, the cursor's sequence number when this stream issued it, or
 *   undefined for a cursor it never issued (another epoch, another form, past the end)
 */
function cursorSeq(wire: Wire, info: StreamInfo, count: number): number | undefined {
  if (info.lastEventId === null) return 0
  const seq = wire.ids.seqOf(info.lastEventId)
  return seq !== undefined && seq <= count ? seq : undefined
}
