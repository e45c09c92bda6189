import type { Catalog, DefaultCatalog } from '../core/index.js'
import { takeOver } from './controller.js'
import { replayEvents } from './replay-events.js'
import { positiveOrFalse } from './replay-from.js'
import type { ScriptEvent, StreamScript } from './types.js'

/** Options of {@link reconnectStorm}. */
export interface ReconnectStormOptions {
  /**
   * How many events each connection carries before it is dropped.
   * @defaultValue `1`
   */
  dropAfter?: number | undefined
}

/**
 * A script that drops every connection after a few events: the client gets the stream only
 * by reconnecting again and again, resuming each time after the last id it saw, as on a
 * flaky mobile network or behind a load balancer that kills long requests. Each request gets
 * the events after its cursor, as in {@link replayFrom}; the stream ends after the terminal
 * event. A client that resumes receives every event exactly once, after
 * `ceil(events / dropAfter)` connections.
 *
 * @param events - the stream's events, in order
 * @param options - how many events per connection
 * @returns the script, for {@link sseHandler}
 * @throws {@link taskwire!TaskwireError} `invalid-option` when `dropAfter` is not a positive integer
 * @example
 * ```ts
 * const handler = sseHandler('GET', '/api/jobs/:id/events', reconnectStorm(events, { dropAfter: 1 }))
 * // after the run: handler.connections.length === events.length
 * ```
 */
export function reconnectStorm<C extends Catalog = DefaultCatalog>(
  events: readonly ScriptEvent<C>[],
  options: ReconnectStormOptions = {},
): StreamScript<C> {
  const dropAfter = positiveOrFalse('dropAfter', options.dropAfter ?? 1)
  const list = [...events] as readonly ScriptEvent<Catalog>[]
  return async (_info, script) => {
    const { wire, controller } = takeOver(script)
    await replayEvents(wire, controller, { events: list, dropAfter })
  }
}
