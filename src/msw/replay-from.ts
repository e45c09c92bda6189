import { type Catalog, type DefaultCatalog, TaskwireError } from '../core/index.js'
import { takeOver } from './controller.js'
import { replayEvents } from './replay-events.js'
import type { ScriptEvent, StreamScript } from './types.js'

/** Options of {@link replayFrom}. */
export interface ReplayFromOptions {
  /**
   * The most events one connection sends before it is dropped, so the client must resume to
   * get the rest; `false` sends them all.
   * @defaultValue `false`
   */
  dropAfter?: number | false | undefined
}

/**
 * A script that serves a stream as the hub's replay does, so the client's resume path runs
 * against a script: each request gets the events after its cursor (`Last-Event-ID` or
 * `?lastEventId=`), without duplicates, up to and including the first terminal event, after
 * which the response ends; a request whose cursor is at or past that event gets a 204, and
 * one with a cursor the stream never issued gets a `stream.reset` with the whole state.
 * Without a terminal event the response stays open after the last event, like a live run.
 *
 * Event `i` (from 0) gets the id `<epoch>-<i + 1>` on every connection.
 *
 * @param events - the stream's events, in order
 * @param options - a bound on the events per connection
 * @returns the script, for {@link sseHandler}
 * @throws {@link taskwire!TaskwireError} `invalid-option` when `dropAfter` is not a positive integer
 * @example
 * ```ts
 * const handler = sseHandler('GET', '/api/jobs/:id/events', replayFrom([
 *   { type: 'run.started', data: {} },
 *   { type: 'task.created', data: { taskId: 't1' } },
 *   { type: 'run.completed', data: {} },
 * ], { dropAfter: 2 }))
 * ```
 */
export function replayFrom<C extends Catalog = DefaultCatalog>(
  events: readonly ScriptEvent<C>[],
  options: ReplayFromOptions = {},
): StreamScript<C> {
  const dropAfter = positiveOrFalse('dropAfter', options.dropAfter ?? false)
  const list = [...events] as readonly ScriptEvent<Catalog>[]
  return async (_info, script) => {
    const { wire, controller } = takeOver(script)
    await replayEvents(wire, controller, { events: list, dropAfter })
  }
}

/**
 * Checks a count option.
 *
 * @param name - the option's name, for the message
 * @param value - its value
 * @returns the count, or undefined for `false`
 * @throws {@link TaskwireError} `invalid-option` when it is not a positive integer or false
 */
export function positiveOrFalse(name: string, value: number | false): number | undefined {
  if (value === false) return undefined
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TaskwireError('invalid-option', `${name} must be a positive integer or false, got ${value}.`)
  }
  return value
}
