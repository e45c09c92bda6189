import {
  type Catalog,
  type DefaultCatalog,
  defaultCatalog,
  type EventData,
  type EventType,
  isReservedEventType,
  TaskwireError,
  TaskwireValidationError,
  type ValidationIssue,
  validateEventData,
} from '../core/index.js'
import { exceedsUtf8Bytes } from './frame-cache.js'
import type { NodeRequest } from './serve-node.js'

/** An event parsed from a request body: its type and its validated payload. */
export type ParsedEvent<C extends Catalog = DefaultCatalog> = {
  [K in EventType<C>]: {
    /** The event type, a key of the catalog. */
    type: K
    /** The payload, validated by the catalog's schema for `type`. */
    data: EventData<C, K>
  }
}[EventType<C>]

/** Options of {@link parseEvent}, {@link parseEventRequest} and {@link parseEventNode}. */
export interface ParseEventOptions<C extends Catalog = DefaultCatalog> {
  /**
   * The catalog the event is validated against; use the hub's (`hub.catalog`).
   * @defaultValue `defaultCatalog`
   */
  catalog?: C | undefined
  /**
   * The largest body accepted, in bytes. A body read from a request is never buffered past
   * it (a `Content-Length` over it is refused before anything is read); a text or byte body
   * is measured before it is parsed. A body your framework already parsed into an object was
   * bounded by the framework's own limit. `false` = no bound.
   * @defaultValue `1_048_576` (1 MiB)
   */
  maxBodyBytes?: number | false | undefined
}

/** The defaults of {@link ParseEventOptions}. */
const DEFAULT_PARSE_EVENT_OPTIONS = Object.freeze({ maxBodyBytes: 1_048_576 })

interface ResolvedParseEventOptions<C extends Catalog> {
  catalog: C
  maxBodyBytes: number | false
}

/** The JSON body of a 4xx answer to an invalid event. */
export interface ValidationErrorBody {
  /** The error. */
  error: {
    /**
     * `invalid-event`, `unknown-event-type`, `reserved-event-type`, `body-too-large` or
     * `event-too-large`.
     */
    code: string
    /** A summary of what failed. */
    message: string
    /** Each invalid field, with its dotted path (`data.status`). */
    issues: ValidationIssue[]
  }
}

/**
 * Validates a webhook or producer body `{ type, data }` against a catalog. Bad input is a
 * typed error listing each invalid field, ready to be answered with a 4xx by
 * {@link validationErrorStatus} and {@link validationErrorBody} (or
 * {@link validationErrorResponse}): never a 500. A text or byte body (`express.text()`,
 * `express.raw()`) is measured against `maxBodyBytes`, then read as JSON.
 *
 * Types in the `stream.` namespace (`stream.snapshot`, `stream.reset`) are refused: the hub
 * writes them itself, and a producer that could send one would replace every viewer's state.
 *
 * @param body - the parsed JSON body, its text, or its bytes
 * @param options - the catalog and the body bound
 * @returns the event, typed by the catalog
 * @throws {@link taskwire!TaskwireValidationError} `invalid-event` when the body is not JSON, not an
 *   object, has no string `type`, or its `data` is invalid (one issue per field, paths like
 *   `data.status`); `unknown-event-type` when the catalog lacks the type;
 *   `reserved-event-type` for a `stream.*` type; `body-too-large` past `maxBodyBytes`
 * @throws {@link taskwire!TaskwireError} `invalid-option` when `maxBodyBytes` is not a
 *   positive integer or `false`
 * @example
 * ```ts
 * app.post('/hooks/jobs/:id', express.text({ type: 'application/json', limit: '1mb' }), async (req, res) => {
 *   try {
 *     const event = parseEvent(req.body, { catalog: hub.catalog })
 *     await hub.publish(req.params.id, event.type, event.data)
 *     res.status(202).end()
 *   } catch (error) {
 *     if (!(error instanceof TaskwireValidationError)) throw error
 *     res.status(validationErrorStatus(error)).json(validationErrorBody(error))
 *   }
 * })
 * ```
 */
export function parseEvent<C extends Catalog = DefaultCatalog>(
  body: unknown,
  options: ParseEventOptions<C> = {},
): ParsedEvent<C> {
  const resolved = resolveParseEventOptions(options)
  let value = body
  if (value instanceof Uint8Array) {
    if (resolved.maxBodyBytes !== false && value.byteLength > resolved.maxBodyBytes) {
      throw tooLarge(resolved.maxBodyBytes)
    }
    value = decodeUtf8(value)
  } else if (typeof value === 'string' && resolved.maxBodyBytes !== false) {
    if (exceedsUtf8Bytes(value, resolved.maxBodyBytes)) throw tooLarge(resolved.maxBodyBytes)
  }
  return validate(value, resolved.catalog)
}

/**
 * Reads and validates the event in a Web `Request` body (Hono, Next.js route handlers,
 * Bun, Deno, workers). The body is read chunk by chunk and never buffered past
 * `maxBodyBytes`: a larger `Content-Length` is refused before anything is read, and a body
 * without one is cancelled as soon as it passes the bound. Bad input gives the same
 * 4xx-ready error as {@link parseEvent}.
 *
 * @param request - the request
 * @param options - the catalog and the body bound
 * @returns the event, typed by the catalog
 * @throws {@link taskwire!TaskwireValidationError} as {@link parseEvent} does; `invalid-event`
 *   too when the body cannot be read or is not UTF-8
 * @throws {@link taskwire!TaskwireError} `invalid-option` as {@link parseEvent} does
 * @example
 * ```ts
 * export async function POST(request: Request) {
 *   try {
 *     const event = await parseEventRequest(request, { catalog: hub.catalog })
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
  options: ParseEventOptions<C> = {},
): Promise<ParsedEvent<C>> {
  const resolved = resolveParseEventOptions(options)
  const max = resolved.maxBodyBytes
  if (max !== false && declaredLength(request.headers.get('content-length')) > max) {
    // Cancelling tells the runtime the rest is not wanted; the answer can still be sent.
    request.body?.cancel().catch(() => undefined)
    throw tooLarge(max)
  }
  const chunks: Uint8Array[] = []
  let total = 0
  if (request.body !== null) {
    let reader: ReadableStreamDefaultReader<Uint8Array>
    try {
      reader = request.body.getReader()
    } catch (cause) {
      throw unreadable(cause)
    }
    // Ends: every read either ends the stream, throws, or adds bytes up to the bound.
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>
      try {
        result = await reader.read()
      } catch (cause) {
        throw unreadable(cause)
      }
      if (result.done) break
      total += result.value.byteLength
      if (max !== false && total > max) {
        reader.cancel().catch(() => undefined)
        throw tooLarge(max)
      }
      chunks.push(result.value)
    }
  }
  return validate(decodeUtf8(concat(chunks, total)), resolved.catalog)
}

/**
 * Reads and validates the event in a Node request body (node:http, Express, Fastify's
 * `request.raw`), with the same bound as {@link parseEventRequest}: a larger
 * `Content-Length` is refused before anything is read, and a body without one stops being
 * kept as soon as it passes `maxBodyBytes` (the rest is discarded as it arrives, so the 413
 * can still be answered). Mount the route without a body parser: when one already read the
 * body (`req.body` is set, as after `app.use(express.json())`), that body is validated as
 * {@link parseEvent} does, and the parser's own limit and errors apply.
 *
 * @param req - the request, its body not yet read
 * @param options - the catalog and the body bound
 * @returns the event, typed by the catalog
 * @throws {@link taskwire!TaskwireValidationError} as {@link parseEventRequest} does
 * @throws {@link taskwire!TaskwireError} `invalid-option` as {@link parseEvent} does
 * @example
 * ```ts
 * app.post('/hooks/jobs/:id', async (req, res) => {
 *   try {
 *     const event = await parseEventNode(req, { catalog: hub.catalog })
 *     await hub.publish(req.params.id, event.type, event.data)
 *     res.status(202).end()
 *   } catch (error) {
 *     if (!(error instanceof TaskwireValidationError)) throw error
 *     res.status(validationErrorStatus(error)).json(validationErrorBody(error))
 *   }
 * })
 * ```
 */
export async function parseEventNode<C extends Catalog = DefaultCatalog>(
  req: NodeRequest,
  options: ParseEventOptions<C> = {},
): Promise<ParsedEvent<C>> {
  const resolved = resolveParseEventOptions(options)
  const parsed = (req as { body?: unknown }).body
  if (parsed !== undefined) return parseEvent(parsed, resolved)
  const max = resolved.maxBodyBytes
  if (max !== false && declaredLength(req.headers['content-length']) > max) {
    // Reads and drops the body, so the connection can carry the answer (and the next request).
    req.resume()
    throw tooLarge(max)
  }
  const bytes = await new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = []
    let total = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
    }
    const onData = (chunk: Uint8Array | string): void => {
      const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk
      total += bytes.byteLength
      if (max !== false && total > max) {
        cleanup()
        chunks.length = 0
        req.resume()
        reject(tooLarge(max))
        return
      }
      chunks.push(bytes)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(concat(chunks, total))
    }
    const onError = (cause: unknown): void => {
      cleanup()
      reject(unreadable(cause))
    }
    const onAborted = (): void => onError(new Error('The client aborted the request.'))
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onError)
    req.once('aborted', onAborted)
  })
  return validate(decodeUtf8(bytes), resolved.catalog)
}

/**
 * The HTTP status that answers a validation error: 413 when the body or the event is too
 * large (`body-too-large`, `event-too-large`), 400 for every other invalid input.
 *
 * @param error - the error {@link parseEvent}, {@link parseEventRequest},
 *   {@link parseEventNode} or `hub.publish` threw
 * @returns 400 or 413
 * @example
 * ```ts
 * res.status(validationErrorStatus(error)).json(validationErrorBody(error))
 * ```
 */
export function validationErrorStatus(error: TaskwireValidationError): 400 | 413 {
  return error.code === 'body-too-large' || error.code === 'event-too-large' ? 413 : 400
}

/**
 * The JSON body of a 4xx answer to an invalid event, for frameworks that send objects
 * (Express `res.status(...).json(...)`, Fastify `reply.code(...).send(...)`); send it with
 * {@link validationErrorStatus}.
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
 * A Web `Response` with {@link validationErrorBody} as JSON and the status of
 * {@link validationErrorStatus} (413 for too large, else 400).
 *
 * @param error - the error {@link parseEventRequest} or `hub.publish` threw
 * @returns the response
 * @example
 * ```ts
 * if (error instanceof TaskwireValidationError) return validationErrorResponse(error)
 * ```
 */
export function validationErrorResponse(error: TaskwireValidationError): Response {
  return new Response(JSON.stringify(validationErrorBody(error)), {
    status: validationErrorStatus(error),
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
  })
}

function resolveParseEventOptions<C extends Catalog>(
  options: ParseEventOptions<C>,
): ResolvedParseEventOptions<C> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_PARSE_EVENT_OPTIONS.maxBodyBytes
  if (maxBodyBytes !== false && !(Number.isSafeInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw new TaskwireError(
      'invalid-option',
      `maxBodyBytes must be a positive integer or false, got ${String(maxBodyBytes)}.`,
    )
  }
  return { catalog: options.catalog ?? (defaultCatalog as Catalog as C), maxBodyBytes }
}

function validate<C extends Catalog>(body: unknown, catalog: C): ParsedEvent<C> {
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
  if (isReservedEventType(type)) {
    const message = `${type} is sent by the server only; producers may not publish stream.* events.`
    throw new TaskwireValidationError(message, [{ path: 'type', message, code: 'reserved-event-type' }], {
      code: 'reserved-event-type',
    })
  }
  const result = validateEventData(catalog, type, data)
  if (!result.ok) throw result.error
  return { type, data: result.value } as ParsedEvent<C>
}

/** A `Content-Length` value as a number of bytes; 0 when absent or not a length. */
function declaredLength(header: string | string[] | null | undefined): number {
  const value = Array.isArray(header) ? header[0] : header
  return value !== undefined && value !== null && /^\d+$/.test(value.trim()) ? Number(value.trim()) : 0
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0]
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (cause) {
    throw invalid('', 'The body is not UTF-8 text; send JSON encoded as UTF-8.', 'invalid_encoding', cause)
  }
}

function tooLarge(maxBodyBytes: number): TaskwireValidationError {
  const message = `The body is larger than maxBodyBytes (${maxBodyBytes} bytes); send a smaller event, or a reference to a large payload.`
  return new TaskwireValidationError(message, [{ path: '', message, code: 'too_big' }], {
    code: 'body-too-large',
  })
}

function unreadable(cause: unknown): TaskwireValidationError {
  return invalid('', 'The request body could not be read; send it again.', 'invalid_body', cause)
}

function invalid(path: string, message: string, code: string, cause?: unknown): TaskwireValidationError {
  return new TaskwireValidationError(message, [{ path, message, code }], cause === undefined ? {} : { cause })
}
