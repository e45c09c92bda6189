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
  const pa = idParts(a)
  const pb = idParts(b)
  if (!pa || !pb) return Number.NaN
  for (let i = 0; i < 2; i++) {
    const x = pa[i] ?? '0'
    const y = pb[i] ?? '0'
    if (x.length !== y.length) return x.length - y.length
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

const ID_PATTERN = /^(\d+)(?:-(\d+))?$/

function idParts(id: string): [string, string | undefined] | undefined {
  const match = ID_PATTERN.exec(id)
  if (!match?.[1]) return undefined
  return [stripZeros(match[1]), match[2] === undefined ? undefined : stripZeros(match[2])]
}

function stripZeros(digits: string): string {
  const stripped = digits.replace(/^0+/, '')
  return stripped === '' ? '0' : stripped
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
