import { describe, expect, it } from 'vitest'
import { createBackoff } from '../../src/client/backoff.js'

const windows = { initialMs: 500, factor: 2, maxMs: 30_000 }

describe('createBackoff', () => {
  it('grows the window exponentially and caps it at maxMs', () => {
    const backoff = createBackoff(windows, () => 0.999999)
    const delays = Array.from({ length: 9 }, () => backoff.next())
    expect(delays).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999])
  })

  it('draws each delay uniformly from the whole window (full jitter)', () => {
    const zero = createBackoff(windows, () => 0)
    expect([zero.next(), zero.next(), zero.next()]).toEqual([0, 0, 0])
    const half = createBackoff(windows, () => 0.5)
    expect([half.next(), half.next(), half.next()]).toEqual([250, 500, 1000])
  })

  it('stays within [0, window) for any random source', () => {
    let seed = 7
    const random = () => {
      seed = (seed * 16807) % 2147483647
      return seed / 2147483647
    }
    const backoff = createBackoff(windows, random)
    for (let attempt = 0; attempt < 50; attempt++) {
      const window = Math.min(30_000, 500 * 2 ** attempt)
      const delay = backoff.next()
      expect(delay).toBeGreaterThanOrEqual(0)
      expect(delay).toBeLessThan(window)
    }
  })

  it('starts over from the first window after reset', () => {
    const backoff = createBackoff(windows, () => 0.5)
    backoff.next()
    backoff.next()
    expect(backoff.attempt).toBe(2)
    backoff.reset()
    expect(backoff.attempt).toBe(0)
    expect(backoff.next()).toBe(250)
  })

  it("uses the server's retry value as the base window", () => {
    const backoff = createBackoff(windows, () => 0.5)
    expect(backoff.next({ baseMs: 2000 })).toBe(1000)
    expect(backoff.next({ baseMs: 2000 })).toBe(2000)
  })

  it('honors a server retry larger than maxMs', () => {
    const backoff = createBackoff(windows, () => 0.999999)
    expect(backoff.next({ baseMs: 60_000 })).toBe(59_999)
    expect(backoff.next({ baseMs: 60_000 })).toBe(59_999)
  })

  it('never waits less than Retry-After', () => {
    const backoff = createBackoff(windows, () => 0.1)
    expect(backoff.next({ retryAfterMs: 5000 })).toBe(5000)
    const late = createBackoff(windows, () => 0.999999)
    for (let i = 0; i < 7; i++) late.next()
    expect(late.next({ retryAfterMs: 5000 })).toBe(29_999)
  })

  it('treats out-of-range random values as the window bounds', () => {
    expect(createBackoff(windows, () => Number.NaN).next()).toBe(0)
    expect(createBackoff(windows, () => 1).next()).toBe(499)
  })
})
