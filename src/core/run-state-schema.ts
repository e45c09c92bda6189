import * as z from 'zod'
import { ownRecordSchema } from './own-record-schema.js'
import type { RunState } from './run-state.js'

// The schemas are built by functions called under `@__PURE__` annotations: tsup puts all of
// core in one chunk, and a bundler keeps every top-level call there it cannot prove pure, so
// without them an app importing only `formatEvent` or `reduceRun` would build and ship zod
// (issue 8). The builders run once, at import, as before.

/**
 * Builds {@link errorInfoSchema}.
 *
 * @returns the schema
 */
function createErrorInfoSchema() {
  return z.object({
    /** A human-readable message. */
    message: z.string(),
    /** A machine-readable code, when the producer has one. */
    code: z.string().optional(),
  })
}

/** Schema of {@link ErrorInfo}. */
export const errorInfoSchema = /* @__PURE__ */ createErrorInfoSchema()

/**
 * Builds {@link runStateSchema}.
 *
 * @returns the schema
 */
function createRunStateSchema(): z.ZodType<RunState> {
  const nullableString = z.string().nullable()
  const nullableNumber = z.number().nullable()
  // JSON drops a key whose value is undefined, so an output not produced yet is absent from a
  // snapshot on the wire, and zod 4 rejects a missing z.unknown() key. The absent key reads as
  // undefined, which the `unknown` field type already covers; the cast only keeps it required
  // in the inferred type so the schema still matches RunState.
  const outputSchema = z.unknown().optional() as unknown as z.ZodUnknown
  return z.object({
    stream: nullableString,
    status: z.enum(['idle', 'running', 'completed', 'failed', 'cancelled']),
    executionId: nullableString,
    workflowId: nullableString,
    mode: nullableString,
    tasks: z.array(
      z.object({
        id: z.string(),
        title: nullableString,
        description: nullableString,
        status: z.enum(['pending', 'in_progress', 'completed', 'failed', 'cancelled']),
        note: nullableString,
        percent: nullableNumber,
        error: errorInfoSchema.nullable(),
        durationMs: nullableNumber,
        meta: ownRecordSchema(z.unknown()),
        createdAt: z.string(),
        updatedAt: z.string(),
      }),
    ),
    agents: ownRecordSchema(
      z.object({
        role: z.string(),
        name: nullableString,
        description: nullableString,
        status: z.enum(['running', 'completed', 'failed']),
        message: nullableString,
        startedAt: nullableString,
        finishedAt: nullableString,
        durationMs: nullableNumber,
        hasArtifacts: z.boolean(),
        error: errorInfoSchema.nullable(),
      }),
    ),
    agentOrder: z.array(z.string()),
    nodes: ownRecordSchema(
      z.object({
        id: z.string(),
        name: nullableString,
        status: z.enum(['pending', 'running', 'completed', 'failed']),
        message: nullableString,
        percent: nullableNumber,
        output: outputSchema,
        error: errorInfoSchema.nullable(),
        startedAt: nullableString,
        finishedAt: nullableString,
        durationMs: nullableNumber,
      }),
    ),
    nodeOrder: z.array(z.string()),
    startedAt: nullableString,
    finishedAt: nullableString,
    durationMs: nullableNumber,
    output: outputSchema,
    error: errorInfoSchema.nullable(),
    meta: ownRecordSchema(z.unknown()),
    lastEventId: nullableString,
  })
}

/** Schema of {@link RunState}, used to validate snapshots that cross the wire. */
export const runStateSchema: z.ZodType<RunState> = /* @__PURE__ */ createRunStateSchema()
