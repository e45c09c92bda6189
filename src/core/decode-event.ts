import * as z from 'zod'
import type { Catalog, Envelope, EventOf } from './catalog.js'
import { TaskwireValidationError } from './errors.js'
import { toIssue, type ValidationResult, validateEventData } from './validate-event.js'

/** A parsed SSE message, as eventsource-parser or `EventSource` hands it over. */
export interface EventMessage {
  /** The `data:` payload. */
  data: string
  /** The `event:` name, when the frame had one. */
  event?: string | undefined
  /** The `id:` field, when the frame had one. */
  id?: string | undefined
}

/** What {@link decodeEvent} does with an event type the catalog does not know. */
export type UnknownEventPolicy = 'reject' | 'passthrough'

/** Options of {@link decodeEvent}. */
export interface DecodeOptions<U extends UnknownEventPolicy = UnknownEventPolicy> {
  /**
   * `reject` turns an unknown type into an `unknown-event-type` error; `passthrough`
   * returns the envelope with its data unchecked.
   * @defaultValue `'reject'`
   */
  unknown?: U | undefined
}

/** The event {@link decodeEvent} returns under the unknown-type policy `U`. */
export type DecodedEvent<C extends Catalog, U extends UnknownEventPolicy> = U extends 'passthrough'
  ? EventOf<C> | Envelope<string, unknown>
  : EventOf<C>

/**
 * Builds the schema of an envelope's fields. Called under a `@__PURE__` annotation so that a
 * bundle without {@link decodeEvent} drops it (tsup puts all of core in one chunk).
 *
 * @returns the schema
 */
function createEnvelopeSchema() {
  return z.object({
    type: z.string().min(1),
    stream: z.string(),
    id: z.string(),
    ts: z.string(),
    data: z.unknown(),
  })
}

const envelopeSchema = /* @__PURE__ */ createEnvelopeSchema()

/**
 * Reads an envelope out of an SSE message and validates it against a catalog.
 *
 * @param message - the message's `data`, and its `event` name when it had one
 * @param catalog - the catalog to validate against
 * @param options - what to do with unknown types
 * @returns `{ ok: true, value }` with the typed envelope, or `{ ok: false, error }` with a
 *   {@link TaskwireValidationError}: `invalid-frame` when the data is not an envelope or
 *   its `event:` name disagrees with its type, `unknown-event-type`, or `invalid-event`
 *   with each invalid field of the payload
 * @example
 * ```ts
 * const result = decodeEvent({ data: message.data }, defaultCatalog)
 * if (result.ok && result.value.type === 'agent.completed') result.value.data.durationMs
 * ```
 */
export function decodeEvent<C extends Catalog, U extends UnknownEventPolicy = 'reject'>(
  message: EventMessage,
  catalog: C,
  options: DecodeOptions<U> = {},
): ValidationResult<DecodedEvent<C, U>> {
  let json: unknown
  try {
    json = JSON.parse(message.data)
  } catch (cause) {
    return frameError('data', 'The data field is not JSON; taskwire frames carry a JSON envelope.', cause)
  }
  const parsed = envelopeSchema.safeParse(json)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => toIssue(issue))
    return {
      ok: false,
      error: new TaskwireValidationError(
        `The data field is not a taskwire envelope: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
        issues,
        { code: 'invalid-frame', cause: parsed.error },
      ),
    }
  }
  const envelope = parsed.data as Envelope
  if (message.event && message.event !== 'message' && message.event !== envelope.type) {
    return frameError(
      'type',
      `The frame's event name ${JSON.stringify(message.event)} disagrees with its envelope type ${JSON.stringify(envelope.type)}.`,
    )
  }
  if (!catalog.has(envelope.type) && options.unknown === 'passthrough') {
    return { ok: true, value: envelope as DecodedEvent<C, U> }
  }
  const data = validateEventData(catalog, envelope.type, envelope.data)
  if (!data.ok) return data
  return { ok: true, value: { ...envelope, data: data.value } as DecodedEvent<C, U> }
}

function frameError(
  path: string,
  message: string,
  cause?: unknown,
): { ok: false; error: TaskwireValidationError } {
  return {
    ok: false,
    error: new TaskwireValidationError(message, [{ path, message, code: 'invalid-frame' }], {
      code: 'invalid-frame',
      cause,
    }),
  }
}
