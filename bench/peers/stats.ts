/**
 * The median of some numbers; NaN (a failed round) counts as missing.
 *
 * @param values - the samples
 * @returns their median, or NaN when there is none
 */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const middle = sorted.length / 2
  return sorted.length % 2 === 1
    ? (sorted[Math.floor(middle)] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2
}

/**
 * A percentile, by the nearest-rank method.
 *
 * @param values - the samples
 * @param p - the percentile, 0 to 100
 * @returns the smallest sample with at least p% of the samples at or below it; NaN if empty
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}

/**
 * How far the samples spread around their median.
 *
 * @param values - the samples
 * @returns (max − min) / median, or NaN
 */
export function spread(values: readonly number[]): number {
  const valid = values.filter((value) => !Number.isNaN(value))
  if (valid.length === 0) return Number.NaN
  return (Math.max(...valid) - Math.min(...valid)) / median(valid)
}
