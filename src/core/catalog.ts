import type * as z from 'zod'
import { TaskwireError } from './errors.js'
import { terminalEventTypes } from './event-types.js'

/** A map from event type (`'task.status'`) to the zod schema of that event's `data`. */
export type EventSchemas = { readonly [type: string]: z.ZodType }

/**
 * A set of event types and the schemas of their payloads. Build one with
 * {@link defineCatalog}; every taskwire API takes one and is typed by it.
 */
export interface Catalog<S extends EventSchemas = EventSchemas> {
  /** The schemas, keyed by event type. */
  readonly events: S
  /**
   * The event types that end a stream: a hub closes each subscription after writing one,
   * answers a later reconnect with the replay and then 204, and the client stops there.
   */
  readonly terminal: readonly string[]
  /**
   * Tells whether the catalog knows an event type.
   *
   * @param type - an event type
   * @returns true when `type` is one of the catalog's types
   */
  has(type: string): boolean
}

/** The event types of a catalog, as a union of string literals. */
export type EventType<C extends Catalog> = keyof C['events'] & string

/** The `data` of an event of type `T` after validation (zod's output type). */
export type EventData<C extends Catalog, T extends EventType<C>> = z.output<C['events'][T]>

/** The `data` accepted when publishing an event of type `T` (zod's input type). */
export type EventInput<C extends Catalog, T extends EventType<C>> = z.input<C['events'][T]>

/**
 * The envelope every event travels in, on the wire and in memory.
 *
 * @see docs/protocol.md
 */
export interface Envelope<T extends string = string, D = unknown> {
  /** The event type, a key of the catalog. */
  type: T
  /** The stream the event belongs to (a job, run, workflow or execution id). */
  stream: string
  /** The event's id, assigned by the hub, strictly increasing within a stream. */
  id: string
  /** When the hub accepted the event, as an ISO 8601 string. */
  ts: string
  /** The payload, validated by the catalog's schema for `type`. */
  data: D
}

/**
 * The envelope of an event of the catalog `C`, narrowed to the types `T` (all by default).
 * It is a union discriminated by `type`, so `if (e.type === 'agent.completed') e.data`
 * is typed.
 */
export type EventOf<C extends Catalog, T extends EventType<C> = EventType<C>> = {
  [K in T]: Envelope<K, EventData<C, K>>
}[T]

/** A map from each event type of `C` to a handler of that event, as taken by `on()`. */
export type EventHandlers<C extends Catalog> = {
  [K in EventType<C>]?: (event: EventOf<C, K>) => void
}

const INVALID_TYPE = /[\r\n\0]/

/** Options of {@link defineCatalog}. */
export interface CatalogOptions<S extends EventSchemas = EventSchemas> {
  /**
   * The event types that end a stream (a run finished, a job reached its final state).
   * @defaultValue those of `run.completed`, `run.failed` and `run.cancelled` the catalog holds
   */
  terminal?: readonly (keyof S & string)[] | undefined
}

/**
 * Builds a catalog from a map of event types to payload schemas. To extend the default
 * catalog, spread its events; to replace it, pass only your own.
 *
 * @param events - the payload schema of each event type
 * @param options - which types end a stream
 * @returns a frozen catalog whose types flow into every API that receives it
 * @throws {@link TaskwireError} `invalid-option` when a type is empty or holds CR, LF or NUL,
 *   which could not be written as an SSE `event:` field, or when a terminal type is not
 *   one of the catalog's
 * @example
 * ```ts
 * import { defaultCatalog, defineCatalog } from 'taskwire'
 * import * as z from 'zod'
 *
 * const catalog = defineCatalog({
 *   ...defaultCatalog.events,
 *   'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }),
 * })
 *
 * // A catalog of its own, whose streams end on `deploy.finished`.
 * const deploys = defineCatalog(
 *   { 'deploy.step': z.object({ step: z.string() }), 'deploy.finished': z.object({ ok: z.boolean() }) },
 *   { terminal: ['deploy.finished'] },
 * )
 * ```
 */
export function defineCatalog<const S extends EventSchemas>(
  events: S,
  options: CatalogOptions<S> = {},
): Catalog<S> {
  const types = new Set<string>()
  for (const type of Object.keys(events)) {
    if (type === '' || INVALID_TYPE.test(type)) {
      throw new TaskwireError(
        'invalid-option',
        `Event type ${JSON.stringify(type)} cannot be sent as an SSE event name; use a non-empty name without CR, LF or NUL.`,
      )
    }
    types.add(type)
  }
  const terminal = options.terminal ?? terminalEventTypes.filter((type) => types.has(type))
  for (const type of terminal) {
    if (!types.has(type)) {
      throw new TaskwireError(
        'invalid-option',
        `Terminal type ${JSON.stringify(type)} is not an event of the catalog; add its schema or leave it out.`,
      )
    }
  }
  const frozen = Object.freeze({ ...events })
  return Object.freeze({
    events: frozen,
    terminal: Object.freeze([...terminal]),
    has: (type: string): boolean => types.has(type),
  })
}
