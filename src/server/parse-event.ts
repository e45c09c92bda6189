import {
  type Catalog,
  type DefaultCatalog,
  defaultCatalog,
  type EventData,
  type EventType,
  TaskwireValidationError,
  type ValidationIssue,
  validateEventData,
} from '../core/index.js'

/** An event parsed from a request body: its type and its validated payload. */
export type ParsedEvent<C extends Catalog = DefaultCatalog> = {
  [K in EventType<C>]: {
    /** The event type, a key of the catalog. */
    type: K
    /** The payload, validated by the catalog's schema for `type`. */
    data: EventData<C, K>
  }
}[EventType<C>]

/** The JSON body of a 400 answer to an invalid event. */
export interface ValidationErrorBody {
  /** The error. */
  error: {
    /** `invalid-event` or `unknown-event-type`. */
    code: string
    /** A summary of what failed. */
    message: string
    /** Each invalid field, with its dotted path (`data.status`). */
    issues: ValidationIssue[]
  }
}

/**
 * Validates a webhook or producer body `{ type, data }` against a catalog (card 2's
 * ingest). Bad input is a typed error listing each invalid field, ready to be answered
 * with a 400 by {@link validationErrorResponse} or {@link validationErrorBody}: never a
 * 500. A string body is read as JSON first, so a raw body can be passed as is.
 *
 * @param body - the parsed JSON body, or its text
 * @param catalog - the catalog to validate against
 * @returns the event, typed by the catalog
 * @throws {@link taskwire!TaskwireValidationError} `invalid-event` when the body is not JSON, not an
 *   object, has no string `type`, or its `data` is invalid (one issue per field, paths like
 *   `data.status`); `unknown-event-type` when the catalog lacks the type
 * @example
 * ```ts
 * app.post('/hooks/jobs/:id', async (req, res) => {
 *   try {
 *     const event = parseEvent(req.body)
 *     await hub.publish(req.params.id, event.type, event.data)
 *     res.status(202).end()
 *   } catch (error) {
 *     if (error instanceof TaskwireValidationError) res.status(400).json(validationErrorBody(error))
 *     else throw error
 *   }
 * })
 * ```
 */
export function parseEvent<C extends Catalog = DefaultCatalog>(
  body: unknown,
  catalog: C = defaultCatalog as Catalog as C,
): ParsedEvent<C> {
  let value = body
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch (cause) {
      throw invalid(
        '',
        'The body is not JSON; send {"type": ..., "data": ...} as application/json.',
        'invalid_json',
        cause,
      )
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('', 'The body must be a JSON object {"type": ..., "data": ...}.', 'invalid_type')
  }
  const { type, data } = value as { type?: unknown; data?: unknown }
  if (typeof type !== 'string' || type === '') {
    throw invalid('type', 'type must be a non-empty string naming an event of the catalog.', 'invalid_type')
  }
  const result = validateEventData(catalog, type, data)
  if (!result.ok) throw result.error
  return { type, data: result.value } as ParsedEvent<C>
}

/**
 * Reads and validates the event in a Web `Request` body (Hono, Next.js route handlers,
 * Bun, Deno, workers). A body that cannot be read or is not JSON gives the same 400-ready
 * error as {@link parseEvent}.
 *
 * @param request - the request
 * @param catalog - the catalog to validate against
 * @returns the event, typed by the catalog
 * @throws {@link taskwire!TaskwireValidationError} as {@link parseEvent} does
 * @example
 * ```ts
 * export async function POST(request: Request) {
 *   try {
 *     const event = await parseEventRequest(request)
 *     await hub.publish('job-7', event.type, event.data)
 *     return new Response(null, { status: 202 })
 *   } catch (error) {
 *     if (error instanceof TaskwireValidationError) return validationErrorResponse(error)
 *     throw error
 *   }
 * }
 * ```
 */
export async function parseEventRequest<C extends Catalog = DefaultCatalog>(
  request: Request,
  catalog: C = defaultCatalog as Catalog as C,
): Promise<ParsedEvent<C>> {
  let text: string
  try {
    text = await request.text()
  } catch (cause) {
    throw invalid('', 'The request body could not be read; send it again.', 'invalid_body', cause)
  }
  return parseEvent(text, catalog)
}

/**
 * The JSON body of a 400 answer to an invalid event, for frameworks that send objects
 * (Express `res.status(400).json(...)`, Fastify `reply.code(400).send(...)`).
 *
 * @param error - the error {@link parseEvent} or `hub.publish` threw
 * @returns `{ error: { code, message, issues } }`
 */
export function validationErrorBody(error: TaskwireValidationError): ValidationErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      issues: error.issues.map((issue) => ({ path: issue.path, message: issue.message, code: issue.code })),
    },
  }
}

/**
 * A Web `Response` 400 with {@link validationErrorBody} as JSON.
 *
 * @param error - the error {@link parseEvent} or `hub.publish` threw
 * @returns the response
 * @example
 * ```ts
 * if (error instanceof TaskwireValidationError) return validationErrorResponse(error)
 * ```
 */
export function validationErrorResponse(error: TaskwireValidationError): Response {
  return new Response(JSON.stringify(validationErrorBody(error)), {
    status: 400,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
  })
}

function invalid(path: string, message: string, code: string, cause?: unknown): TaskwireValidationError {
  return new TaskwireValidationError(message, [{ path, message, code }], cause === undefined ? {} : { cause })
}
