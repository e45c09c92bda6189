import { type Catalog, type DefaultCatalog, TaskwireError } from '../core/index.js'
import { takeOver } from './controller.js'
import { replayEvents, sendReset } from './replay-events.js'
import type { ScriptEvent, StreamScript } from './types.js'

/** Options of {@link gapOnReconnect}. */
export interface GapOnReconnectOptions {
  /**
   * How many events the first connection carries before it is dropped.
   * @defaultValue `1`
   */
  dropAfter?: number | undefined
  /**
   * How many events after those are lost: no connection ever sends them.
   * @defaultValue `1`
   */
  missing?: number | undefined
  /**
   * How the reconnection shows the gap. `skip`: the replay goes on after the lost events, so
   * the ids jump, as a server whose replay log lost them would send. `reset`: a
   * `stream.reset` (`cursor-expired`) with the state folded through the lost events comes
   * first, as the hub sends when a cursor fell out of its log.
   * @defaultValue `'skip'`
   */
  mode?: 'skip' | 'reset' | undefined
}

/**
 * A script whose first connection drops and whose reconnection skips events, to check what
 * an app does when it missed part of a stream: that it resets its state (`mode: 'reset'`:
 * the client reports `resync.kind === 'reset'`) or refetches what it keeps outside the
 * stream. Later connections resume after their cursor, as in {@link replayFrom}; the lost
 * events are never sent.
 *
 * @param events - the stream's events, in order
 * @param options - where the gap is, how long, and how it shows
 * @returns the script, for {@link sseHandler}
 * @throws {@link taskwire!TaskwireError} `invalid-option` for counts that are not positive
 *   integers, or `mode: 'reset'` with a catalog without `stream.reset`
 * @example
 * ```ts
 * // Events 1 and 2, a drop, then a reset to the state through event 4, then 5 on.
 * sseHandler('GET', '/api/jobs/:id/events', gapOnReconnect(events, { dropAfter: 2, missing: 2, mode: 'reset' }))
 * ```
 */
export function gapOnReconnect<C extends Catalog = DefaultCatalog>(
  events: readonly ScriptEvent<C>[],
  options: GapOnReconnectOptions = {},
): StreamScript<C> {
  const dropAfter = options.dropAfter ?? 1
  const missing = options.missing ?? 1
  const mode = options.mode ?? 'skip'
  for (const [name, value] of [
    ['dropAfter', dropAfter],
    ['missing', missing],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TaskwireError('invalid-option', `${name} must be a positive integer, got ${value}.`)
    }
  }
  const list = [...events] as readonly ScriptEvent<Catalog>[]
  const gapEnd = dropAfter + missing
  const lost = (seq: number): boolean => seq > dropAfter && seq <= gapEnd
  return async (info, script) => {
    const { wire, controller } = takeOver(script)
    if (info.attempt === 1) {
      await replayEvents(wire, controller, { events: list, lost, dropAfter })
      return
    }
    const cursor = info.lastEventId === null ? 0 : wire.ids.seqOf(info.lastEventId)
    if (mode === 'reset' && cursor !== undefined && cursor < gapEnd) {
      if (!wire.catalog.has('stream.reset')) {
        throw new TaskwireError('invalid-option', "mode 'reset' needs a catalog with stream.reset.")
      }
      await sendReset(wire, controller, list, Math.min(gapEnd, list.length), 'cursor-expired')
      await replayEvents(wire, controller, { events: list, lost, from: Math.min(gapEnd, list.length) })
      return
    }
    await replayEvents(wire, controller, { events: list, lost })
  }
}
