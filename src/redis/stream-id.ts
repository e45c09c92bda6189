import { compareEventIds } from '../core/index.js'

/** A cursor as the broker reads it. */
export type Cursor =
  | {
      /** The start of the log: null, `''`, `'0'` or `'0-0'`. */
      readonly kind: 'start'
    }
  | {
      /** A Redis entry id. */
      readonly kind: 'id'
      /** The id as Redis writes it, `<ms>-<seq>` without leading zeros. */
      readonly id: string
    }
  | {
      /** Not an id Redis could have issued. */
      readonly kind: 'unknown'
    }

const ID = /^(\d{1,20})(?:-(\d{1,20}))?$/
const U64_MAX = 18_446_744_073_709_551_615n

/** The id before every entry, which Redis reports when nothing was deleted or generated. */
export const ZERO_ID = '0-0'

/**
 * Reads a cursor. `'5'` means `'5-0'`, as in Redis's own range syntax, and zero-padded parts
 * read as the number they pad, as `compareEventIds` orders them.
 *
 * @param afterId - the cursor a caller gave
 * @returns the start of the log, a canonical entry id, or unknown
 */
export function parseCursor(afterId: string | null): Cursor {
  if (afterId === null || afterId === '') return { kind: 'start' }
  const match = ID.exec(afterId)
  if (!match?.[1]) return { kind: 'unknown' }
  const ms = BigInt(match[1])
  const seq = BigInt(match[2] ?? '0')
  if (ms > U64_MAX || seq > U64_MAX) return { kind: 'unknown' }
  if (ms === 0n && seq === 0n) return { kind: 'start' }
  return { kind: 'id', id: `${ms}-${seq}` }
}

/** Where a log stands, as the `TAIL` script reads it. */
export interface LogBounds {
  /** The newest id the log issued, `0-0` when it does not exist. */
  readonly last: string
  /** The oldest id it retains, undefined when it retains none. */
  readonly first: string | undefined
}

const partsOf = (id: string): [bigint, bigint] => {
  const [ms = '0', n = '0'] = id.split('-')
  return [BigInt(ms), BigInt(n)]
}

/**
 * The number an id of this broker gives its entry within the log: its second part, counting
 * the log's entries from 1 (see the `APPEND` script).
 *
 * @param id - a canonical id
 * @returns the entry's number
 */
export const numberOf = (id: string): bigint => partsOf(id)[1]

/**
 * Tells whether a cursor (canonical; `0-0` for the start) can be served from a log:
 * `ok` when every entry after it is retained, `cursor-expired` when entries after it were
 * trimmed, and `cursor-unknown` when the log cannot have issued it (past its newest id, not
 * one of its entries, or numbered as if from another incarnation of the stream).
 *
 * Entries are numbered from 1 in their ids' second part (see the `APPEND` script), and logs
 * are only ever trimmed from their head: entries numbered below the first retained one's
 * are gone, and a cursor lost events exactly when its number is more than one below it.
 *
 * @param cursor - the cursor
 * @param bounds - the log's newest and oldest ids
 * @param found - whether the cursor is an entry of the log, when it falls within it
 * @returns the cursor's status
 */
export function classifyCursor(
  cursor: string,
  bounds: LogBounds,
  found: boolean,
): 'ok' | 'cursor-expired' | 'cursor-unknown' {
  if (compareEventIds(cursor, bounds.last) > 0) return 'cursor-unknown'
  if (bounds.first !== undefined && compareEventIds(cursor, bounds.first) >= 0) {
    return found ? 'ok' : 'cursor-unknown'
  }
  const firstNumber = bounds.first === undefined ? numberOf(bounds.last) + 1n : numberOf(bounds.first)
  const number = numberOf(cursor)
  if (number >= firstNumber) return 'cursor-unknown'
  return number + 1n < firstNumber ? 'cursor-expired' : 'ok'
}

/**
 * The cursor just before the oldest retained entry: after everything trimmed, before
 * everything kept. A subscription told of a gap goes on from here.
 *
 * @param bounds - the log's newest and oldest ids
 * @returns a canonical id; `0-0` for a log that does not exist
 */
export function trimPoint(bounds: LogBounds): string {
  if (bounds.first === undefined) return bounds.last
  const [ms, number] = partsOf(bounds.first)
  return number > 0n ? `${ms}-${number - 1n}` : ms > 0n ? `${ms - 1n}-${U64_MAX}` : ZERO_ID
}
