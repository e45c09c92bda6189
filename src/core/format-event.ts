import { TaskwireError } from './errors.js'

/** The fields of one server-sent event frame; each is optional. */
export interface EventFields {
  /** The `id:` field; an empty string resets the reader's last event id. */
  id?: string | undefined
  /** The `event:` field, the event's name; readers use `message` when it is absent. */
  event?: string | undefined
  /** The `data:` payload; line breaks (LF, CR, CRLF) become several `data:` lines. */
  data?: string | undefined
  /** The `retry:` field: how long a reader waits before reconnecting, in milliseconds. */
  retry?: number | undefined
  /** A comment line, ignored by readers; used for heartbeats. */
  comment?: string | undefined
}

const LINE_BREAK = /\r\n|\r|\n/
const HAS_BREAK = /[\r\n]/
const HAS_BREAK_OR_NUL = /[\r\n\0]/

/**
 * Writes one server-sent event frame, ending with the blank line that dispatches it.
 * Whatever a conforming reader parses back from the frame equals the fields given: data
 * line breaks read back as LF, and a leading space in data survives.
 *
 * @param fields - the frame's fields
 * @returns the frame as text
 * @throws {@link TaskwireError} `invalid-frame` when `id` or `event` holds CR, LF or NUL, a
 *   comment holds a line break, or `retry` is not a non-negative integer: such a frame
 *   would be read back as something else, so it is never written
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
 * @example
 * ```ts
 * formatEvent({ id: '42', event: 'task.status', data: '{"taskId":"t1"}' })
 * // 'id: 42\nevent: task.status\ndata: {"taskId":"t1"}\n\n'
 * ```
 */
export function formatEvent(fields: EventFields): string {
  let frame = ''
  if (fields.comment !== undefined) {
    if (HAS_BREAK.test(fields.comment)) {
      throw invalid('A comment cannot hold a line break; send one comment per line.')
    }
    frame += `: ${fields.comment}\n`
  }
  if (fields.retry !== undefined) {
    if (!Number.isSafeInteger(fields.retry) || fields.retry < 0) {
      throw invalid(`retry must be a non-negative integer of milliseconds, got ${fields.retry}.`)
    }
    frame += `retry: ${fields.retry}\n`
  }
  if (fields.id !== undefined) {
    // WHATWG: an id holding NUL is ignored by readers, and CR/LF would end the field early.
    if (HAS_BREAK_OR_NUL.test(fields.id)) {
      throw invalid(`Event id ${JSON.stringify(fields.id)} holds CR, LF or NUL; use an id without them.`)
    }
    frame += `id: ${fields.id}\n`
  }
  if (fields.event !== undefined) {
    if (HAS_BREAK_OR_NUL.test(fields.event)) {
      throw invalid(
        `Event name ${JSON.stringify(fields.event)} holds CR, LF or NUL; use a name without them.`,
      )
    }
    frame += `event: ${fields.event}\n`
  }
  if (fields.data !== undefined) {
    const data = fields.data
    if (!HAS_BREAK.test(data)) {
      frame += `data: ${data}\n`
    } else {
      for (const line of data.split(LINE_BREAK)) frame += `data: ${line}\n`
    }
  }
  return `${frame}\n`
}

function invalid(message: string): TaskwireError {
  return new TaskwireError('invalid-frame', message)
}
