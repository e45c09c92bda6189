import type { Envelope } from './catalog.js'
import { TaskwireError } from './errors.js'
import { formatEvent } from './format-event.js'

/**
 * How an envelope is framed: `named` writes `event: <type>` so `addEventListener(type)`
 * works; `data-only` omits it for readers that use `onmessage` alone. The envelope, type
 * included, is in `data:` either way.
 */
export type Framing = 'named' | 'data-only'

/** Options of {@link encodeEvent}. */
export interface EncodeOptions {
  /**
   * How the frame names the event.
   * @defaultValue `'named'`
   */
  framing?: Framing | undefined
}

/**
 * Serializes an envelope as one SSE frame: `id:`, `event:` (named framing) and the whole
 * envelope as JSON in `data:`.
 *
 * @param envelope - the event to send
 * @param options - the framing
 * @returns the frame as text
 * @throws {@link TaskwireError} `invalid-frame` when the id or type cannot be written, and
 *   `invalid-event` when the envelope is not JSON-serializable (a BigInt, a cycle)
 * @example
 * ```ts
 * encodeEvent({ type: 'task.status', stream: 'job-7', id: '3', ts, data: { taskId: 't1', status: 'completed' } })
 * ```
 */
export function encodeEvent(envelope: Envelope, options: EncodeOptions = {}): string {
  let data: string
  try {
    data = JSON.stringify(envelope)
  } catch (cause) {
    // `unknown` payload fields (node output, meta) may hold a BigInt or a cycle, which
    // JSON.stringify rejects with a bare TypeError; callers switch on taskwire codes.
    throw new TaskwireError(
      'invalid-event',
      `The ${envelope.type} event ${JSON.stringify(envelope.id)} cannot be serialized as JSON; send plain JSON values (no BigInt, no cycles).`,
      { cause },
    )
  }
  return formatEvent({
    id: envelope.id,
    event: options.framing === 'data-only' ? undefined : envelope.type,
    data,
  })
}
