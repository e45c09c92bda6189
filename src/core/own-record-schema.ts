import * as z from 'zod'

/**
 * Schema of a record with string keys whose values match `value`, parsed into a record
 * without prototype. zod's `z.record` skips a `__proto__` key (it builds a plain object,
 * whose `__proto__` setter would replace the prototype), so a node or agent with that id
 * would vanish from a snapshot while its id stays in the order; this schema keeps every own
 * key, and issues keep their dotted paths (`nodes.constructor.status`).
 *
 * @param value - the schema of each value
 * @returns a schema whose output has no prototype
 */
export function ownRecordSchema<V extends z.ZodType>(
  value: V,
): z.ZodType<Record<string, z.output<V>>, Record<string, z.input<V>>> {
  return z.unknown().transform((input, ctx) => {
    const record: Record<string, z.output<V>> = Object.create(null)
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      ctx.addIssue({ code: 'invalid_type', expected: 'record', input })
      return z.NEVER
    }
    for (const key of Object.keys(input)) {
      const entry = (input as Record<string, unknown>)[key]
      const parsed = value.safeParse(entry)
      if (parsed.success) record[key] = parsed.data
      else for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: [key, ...issue.path] })
    }
    return record
  }) as unknown as z.ZodType<Record<string, z.output<V>>, Record<string, z.input<V>>>
}
