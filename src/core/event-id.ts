/**
 * Orders two event ids. Ids are opaque strings, but the ids taskwire assigns are decimal
 * counters (`"42"`) or Redis stream ids (`"1700000000000-3"`); those are compared by value.
 * Any other pair can only be equal or not, and is reported as unordered.
 *
 * @param a - an event id
 * @param b - another event id
 * @returns a negative number, zero or a positive number as `a` comes before, equals or
 *   follows `b`; `NaN` when the two cannot be ordered
 */
export function compareEventIds(a: string, b: string): number {
  if (a === b) return 0
  if (!ID_PATTERN.test(a) || !ID_PATTERN.test(b)) return NaN
  // Read in place, without a match or a substring: the hub and the client compare ids on
  // every event.
  const dashA = a.indexOf('-')
  const dashB = b.indexOf('-')
  const endA = dashA < 0 ? a.length : dashA
  const endB = dashB < 0 ? b.length : dashB
  return (
    compareDigits(a, 0, endA, b, 0, endB) ||
    // After the dash, or nothing (read as zero) when there is none.
    compareDigits(a, dashA + 1 || a.length, a.length, b, dashB + 1 || b.length, b.length)
  )
}

const ID_PATTERN = /^\d+(-\d+)?$/

/**
 * Orders the decimal numbers `a[i, m)` and `b[j, n)` by value (leading zeros aside; an empty
 * range reads as zero).
 */
function compareDigits(a: string, i: number, m: number, b: string, j: number, n: number): number {
  while (i < m && a.charCodeAt(i) === 48) i++
  while (j < n && b.charCodeAt(j) === 48) j++
  let order = m - i - (n - j)
  while (order === 0 && i < m) order = a.charCodeAt(i++) - b.charCodeAt(j++)
  return order
}

/**
 * Tells whether an event with id `id` was already seen by a reader whose last id is `last`.
 *
 * @param id - the id of the incoming event
 * @param last - the last id delivered, if any
 * @returns true when `id` is not after `last`
 */
export function isSeenEventId(id: string, last: string | null | undefined): boolean {
  if (last === null || last === undefined) return false
  const order = compareEventIds(id, last)
  return order <= 0
}
