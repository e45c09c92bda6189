import { type Catalog, formatEvent, TaskwireError } from '../core/index.js'
import type { StreamController } from './types.js'
import { utf8, type Wire } from './wire.js'

const WIRE = Symbol('taskwire.msw.wire')

/** A controller with the wire it drives, for the presets that wrap it. */
type Wired<C extends Catalog> = StreamController<C> & { readonly [WIRE]: Wire }

/**
 * Makes the controller a script gets: each call is queued behind the ones before it, so a
 * script that does not await still sends, waits and drops in the order it wrote.
 *
 * @param wire - the connection
 * @returns the controller
 */
export function controllerOf<C extends Catalog>(wire: Wire): StreamController<C> {
  let queue: Promise<unknown> = Promise.resolve()
  const enqueue = (step: () => Promise<void>): Promise<void> => {
    const next = queue.then(step)
    // A failed step rejects its own promise; the steps after it still run.
    queue = next.catch(() => {})
    return next
  }
  wire.track(() => queue)
  /** Queues text made now, so a mistake (a bad id, an invalid payload) rejects this call. */
  const writeText = (make: () => string): Promise<void> => {
    let text: string
    try {
      text = make()
    } catch (error) {
      return Promise.reject(error)
    }
    return enqueue(() => wire.write(utf8(text)))
  }
  const controller: Wired<C> = {
    [WIRE]: wire,
    signal: wire.signal,
    // The envelope (and its id) is made at the call, so ids follow the order of the calls.
    send: (type, data, options) => writeText(() => wire.frame(wire.envelope(type, data, options?.id))),
    raw: (chunk) => enqueue(() => wire.write(typeof chunk === 'string' ? utf8(chunk) : chunk)),
    comment: (text = 'hb') => writeText(() => formatEvent({ comment: text })),
    retry: (ms) => writeText(() => formatEvent({ retry: ms })),
    open: () => enqueue(() => wire.open()),
    wait: (ms) => enqueue(() => wire.wait(ms)),
    drop: () => enqueue(() => wire.drop()),
    close: () => enqueue(() => wire.close()),
    respond: (status, init) => enqueue(() => wire.respond(status, init)),
  }
  return controller
}

/**
 * The wire under a controller made by {@link controllerOf}.
 *
 * @param controller - a script's controller
 * @returns its wire
 * @throws {@link TaskwireError} `invalid-option` for a controller the kit did not make
 */
export function wireOf<C extends Catalog>(controller: StreamController<C>): Wire {
  const wire = (controller as Partial<Wired<C>>)[WIRE]
  if (wire === undefined) {
    throw new TaskwireError(
      'invalid-option',
      'A taskwire/msw preset needs the controller sseHandler gave the script; pass it on unchanged.',
    )
  }
  return wire
}

/**
 * What a preset drives a connection with: the wire under the script's controller and a
 * controller of its own, untyped by catalog (a preset sends the events it was given, already
 * checked against the handler's catalog when the preset was typed).
 *
 * @param controller - the script's controller
 * @returns the wire and a new controller on it
 */
export function takeOver<C extends Catalog>(
  controller: StreamController<C>,
): { wire: Wire; controller: StreamController<Catalog> } {
  const wire = wireOf(controller)
  return { wire, controller: controllerOf<Catalog>(wire) }
}
