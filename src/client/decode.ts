import {
  type Catalog,
  type Envelope,
  type EventMessage,
  TaskwireValidationError,
  type ValidationIssue,
  type ValidationResult,
} from '../core/index.js'
import type { ValidateMode } from './options.js'

const FIELDS = ['type', 'stream', 'id', 'ts'] as const

/** The part of a Standard Schema (zod 4, valibot, arktype ...) the client calls. */
interface StandardSchema {
  '~standard': {
    validate(value: unknown): StandardResult | Promise<StandardResult>
  }
}

type StandardResult =
  | { value: unknown; issues?: undefined }
  | { issues: readonly { message: string; path?: readonly (PropertyKey | { key: PropertyKey })[] }[] }

/**
 * Reads one SSE message as a taskwire envelope: its JSON, its shape checked by hand, and,
 * when the client was given a catalog, its `data` validated through the schema's Standard
 * Schema interface. No validator is bundled: one arrives only with the caller's catalog.
 *
 * @param message - the frame's data and event name
 * @param catalog - the catalog to validate against, if any
 * @param mode - how strictly
 * @returns the envelope, or the validation error that says what is wrong
 */
export function decodeMessage(
  message: EventMessage,
  catalog: Catalog | undefined,
  mode: ValidateMode,
): ValidationResult<Envelope> {
  let value: unknown
  try {
    value = JSON.parse(message.data)
  } catch (cause) {
    return invalid('data', 'data is not JSON.', 'invalid-frame', cause)
  }
  return decodeValue(value, message.event, catalog, mode)
}

/**
 * Checks a parsed envelope (a poll's event, a frame's JSON).
 *
 * @param value - the parsed JSON
 * @param name - the frame's `event:` name, if it had one
 * @param catalog - the catalog to validate against, if any
 * @param mode - how strictly
 * @returns the envelope, or the validation error
 */
function decodeValue(
  value: unknown,
  name: string | undefined,
  catalog: Catalog | undefined,
  mode: ValidateMode,
): ValidationResult<Envelope> {
  // Checked field by field below; typed as what it is once the check passed.
  const envelope = value as Envelope
  if (!FIELDS.every((field) => typeof (value as Partial<Envelope> | null)?.[field] === 'string')) {
    return invalid('data', 'data is not a taskwire envelope {type, stream, id, ts, data}.', 'invalid-frame')
  }
  if (name !== undefined && name !== 'message' && name !== envelope.type) {
    return invalid('event', `event: ${name} is not the envelope's type ${envelope.type}.`, 'invalid-frame')
  }
  if (mode === false || !catalog) return { ok: true, value: envelope }
  const events = catalog.events as Readonly<Record<string, unknown>>
  if (!Object.hasOwn(events, envelope.type)) {
    if (mode === 'passthrough') return { ok: true, value: envelope }
    return invalid('type', `The catalog has no ${envelope.type}.`, 'unknown-event-type')
  }
  const result = (events[envelope.type] as StandardSchema)['~standard'].validate(envelope.data)
  if (result instanceof Promise) {
    return invalid('data', `${envelope.type}'s schema is async; use a synchronous one.`, 'invalid-event')
  }
  if (result.issues) {
    const issues: ValidationIssue[] = result.issues.map(({ path = [], message }) => ({
      path: ['data', ...path.map((key) => String(typeof key === 'object' ? key.key : key))].join('.'),
      message,
      code: 'invalid-event',
    }))
    const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')
    return { ok: false, error: new TaskwireValidationError(`Invalid ${envelope.type}: ${summary}`, issues) }
  }
  return { ok: true, value: { ...envelope, data: result.value } }
}

function invalid(
  path: string,
  message: string,
  code: 'invalid-frame' | 'unknown-event-type' | 'invalid-event',
  cause?: unknown,
): { ok: false; error: TaskwireValidationError } {
  return {
    ok: false,
    error: new TaskwireValidationError(message, [{ path, message, code }], { code, cause }),
  }
}
