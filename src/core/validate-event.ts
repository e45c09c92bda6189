import type * as z from 'zod'
import type { Catalog, EventData, EventType } from './catalog.js'
import { TaskwireValidationError, type ValidationIssue } from './errors.js'

/** The outcome of a validation: the value, or the error that lists each invalid field. */
export type ValidationResult<T> =
  | {
      /** The value is valid. */
      ok: true
      /** The parsed value (zod's output, with defaults applied). */
      value: T
    }
  | {
      /** The value is invalid. */
      ok: false
      /** The error, listing each invalid field in `issues`. */
      error: TaskwireValidationError
    }

/**
 * Validates the payload of an event against its catalog schema.
 *
 * @param catalog - the catalog that defines `type`
 * @param type - the event type
 * @param data - the payload to check
 * @param pathPrefix - prefixed to each issue's path (`data` gives `data.taskId`)
 * @returns the parsed payload, or a {@link TaskwireValidationError} whose code is
 *   `unknown-event-type` or `invalid-event`
 */
export function validateEventData<C extends Catalog, T extends string>(
  catalog: C,
  type: T,
  data: unknown,
  pathPrefix = 'data',
): ValidationResult<T extends EventType<C> ? EventData<C, T> : never> {
  if (!catalog.has(type)) {
    const issue: ValidationIssue = {
      path: 'type',
      message: `Unknown event type ${JSON.stringify(type)}; add it to the catalog with defineCatalog().`,
      code: 'unknown-event-type',
    }
    return {
      ok: false,
      error: new TaskwireValidationError(issue.message, [issue], { code: 'unknown-event-type' }),
    }
  }
  const schema = catalog.events[type] as z.ZodType
  const parsed = schema.safeParse(data)
  if (parsed.success) {
    return { ok: true, value: parsed.data as T extends EventType<C> ? EventData<C, T> : never }
  }
  const issues = parsed.error.issues.map((issue) => toIssue(issue, pathPrefix))
  return {
    ok: false,
    error: new TaskwireValidationError(
      `Invalid ${type} event: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
      issues,
      { cause: parsed.error },
    ),
  }
}

/**
 * Turns a zod issue into a {@link ValidationIssue} with a dotted path.
 *
 * @param issue - a zod issue
 * @param pathPrefix - prefixed to the path
 * @returns the issue with its path joined by dots
 */
export function toIssue(issue: z.core.$ZodIssue, pathPrefix = ''): ValidationIssue {
  const parts = issue.path.map((part) => String(part))
  const path = [pathPrefix, ...parts].filter((part) => part !== '').join('.')
  return { path, message: issue.message, code: issue.code }
}
