import { describe, expect, it } from 'vitest'
import { clampServerDelay, createBackoff, MAX_SERVER_DELAY_MS } from '../../src/client/backoff.js'

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
    // Two attempts: the window grew from 500 to 1000.
    expect([backoff.next(), backoff.next()]).toEqual([250, 500])
    backoff.reset()
    // Back to the first window, and growing again from there.
    expect([backoff.next(), backoff.next()]).toEqual([250, 500])
  })

  it("adds the server's retry: as a floor under a window that keeps growing", () => {
    const backoff = createBackoff(windows, () => 0.5)
    // floor 2000 + half of the 500 window, then of the 1000 window.
    expect(backoff.next(2000)).toBe(2250)
    expect(backoff.next(2000)).toBe(2500)
  })

  it('honors a server retry larger than maxMs', () => {
    const backoff = createBackoff(windows, () => 0.999999)
    expect(backoff.next(60_000)).toBe(60_499)
    expect(backoff.next(60_000)).toBe(60_999)
  })

  it('never waits less than Retry-After', () => {
    const backoff = createBackoff(windows, () => 0.1)
    expect(backoff.next(5000)).toBe(5050)
    const late = createBackoff(windows, () => 0.999999)
    for (let i = 0; i < 7; i++) late.next()
    expect(late.next(5000)).toBe(34_999)
  })

  it('clamps the server floor to [0, MAX_SERVER_DELAY_MS]', () => {
    const backoff = createBackoff(windows, () => 0)
    expect(backoff.next(10 ** 12)).toBe(MAX_SERVER_DELAY_MS)
    expect(backoff.next(-5)).toBe(0)
    expect(backoff.next(Number.NaN)).toBe(0)
    expect(backoff.next(null)).toBe(0)
  })

  it('treats a NaN random value as the lower window bound', () => {
    expect(createBackoff(windows, () => Number.NaN).next()).toBe(0)
    expect(createBackoff(windows, () => -1).next()).toBe(0)
  })
  it('treats a random value of 1 or more as the upper window bound', () => {
    expect(createBackoff(windows, () => 1).next()).toBe(499)
    expect(createBackoff(windows, () => 2).next()).toBe(499)
  })
})

describe('clampServerDelay', () => {
  it('keeps a delay in range and clamps the rest', () => {
    expect(clampServerDelay(1500)).toBe(1500)
    expect(clampServerDelay(MAX_SERVER_DELAY_MS + 1)).toBe(MAX_SERVER_DELAY_MS)
    expect(clampServerDelay(Number.POSITIVE_INFINITY)).toBe(MAX_SERVER_DELAY_MS)
    expect(clampServerDelay(-1)).toBe(0)
    expect(clampServerDelay(Number.NaN)).toBe(0)
    expect(clampServerDelay(undefined)).toBe(0)
    expect(clampServerDelay(null)).toBe(0)
  })
})
