import { TaskwireError } from '../core/index.js'
import type { StoredEvent } from '../server/index.js'

/** A log entry as Redis returns it: its id and its fields. */
export interface RawEntry {
  /** The entry id, which is the event's id. */
  readonly id: string
  /** The field values by name. */
  readonly fields: ReadonlyMap<string, string>
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value
    : value instanceof Uint8Array
      ? new TextDecoder().decode(value)
      : undefined

/** Reads field/value pairs sent as a flat array (RESP2, Lua) or a map (RESP3). */
const fieldsOf = (value: unknown): Map<string, string> => {
  const fields = new Map<string, string>()
  if (value instanceof Map) {
    for (const [name, field] of value) {
      const n = text(name)
      const v = text(field)
      if (n !== undefined && v !== undefined) fields.set(n, v)
    }
  } else if (Array.isArray(value)) {
    for (let i = 0; i + 1 < value.length; i += 2) {
      const n = text(value[i])
      const v = text(value[i + 1])
      if (n !== undefined && v !== undefined) fields.set(n, v)
    }
  }
  return fields
}

/**
 * Reads the entries of an `XRANGE` or `XREAD` reply.
 *
 * @param reply - an array of `[id, fields]`
 * @returns the entries; anything else in the reply is skipped
 */
export function entriesOf(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply)) return []
  const entries: RawEntry[] = []
  for (const item of reply) {
    if (!Array.isArray(item)) continue
    const id = text(item[0])
    if (id !== undefined) entries.push({ id, fields: fieldsOf(item[1]) })
  }
  return entries
}

/**
 * Reads the streams of an `XREAD` reply: an array of `[key, entries]` pairs (RESP2) or a
 * map from key to entries (RESP3).
 *
 * @param reply - the reply; null when the read timed out
 * @returns each key with its entries
 */
export function streamsOf(reply: unknown): [key: string, entries: RawEntry[]][] {
  const pairs: [unknown, unknown][] =
    reply instanceof Map
      ? [...reply.entries()]
      : Array.isArray(reply)
        ? reply.filter(Array.isArray).map((pair: unknown[]) => [pair[0], pair[1]])
        : []
  const out: [string, RawEntry[]][] = []
  for (const [key, entries] of pairs) {
    const name = text(key)
    if (name !== undefined) out.push([name, entriesOf(entries)])
  }
  return out
}

/**
 * Turns a log entry into the event it stores: `type`, `ts` and `data`, the payload's JSON as
 * the publishing hub wrote it, kept verbatim in `dataJson` and parsed into `data`.
 *
 * @param stream - the stream the entry belongs to
 * @param entry - the entry
 * @returns the event, or the error to report for an entry that is not a taskwire event
 */
export function toStoredEvent(stream: string, entry: RawEntry): StoredEvent | TaskwireError {
  const type = entry.fields.get('type')
  const ts = entry.fields.get('ts')
  const dataJson = entry.fields.get('data')
  const notAnEvent = (cause?: unknown): TaskwireError =>
    new TaskwireError(
      'broker',
      `Entry ${entry.id} of stream ${JSON.stringify(stream)} is not a taskwire event (it needs type, ts and JSON data); it was skipped.`,
      cause === undefined ? {} : { cause },
    )
  if (type === undefined || ts === undefined || dataJson === undefined) return notAnEvent()
  try {
    return { type, stream, id: entry.id, ts, data: JSON.parse(dataJson) as unknown, dataJson }
  } catch (cause) {
    return notAnEvent(cause)
  }
}
