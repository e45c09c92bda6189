import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createWatchdog } from '../../src/client/watchdog.js'

describe('createWatchdog', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('fires once after the silence window', () => {
    const fired = vi.fn()
    const watchdog = createWatchdog(1000, fired)
    watchdog.kick()
    vi.advanceTimersByTime(999)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(fired).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(10_000)
    expect(fired).toHaveBeenCalledTimes(1)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('measures the window from the last kick', () => {
    const fired = vi.fn()
    const watchdog = createWatchdog(1000, fired)
    watchdog.kick()
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(600)
      watchdog.kick()
    }
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(999)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(fired).toHaveBeenCalledTimes(1)
  })

  it('keeps a single timer however often it is kicked', () => {
    const watchdog = createWatchdog(1000, () => {})
    for (let i = 0; i < 1000; i++) watchdog.kick()
    expect(vi.getTimerCount()).toBe(1)
  })

  it('leaves no timer once stopped', () => {
    const fired = vi.fn()
    const watchdog = createWatchdog(1000, fired)
    watchdog.kick()
    watchdog.stop()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(5000)
    expect(fired).not.toHaveBeenCalled()
  })

  it('never arms when turned off with false', () => {
    const watchdog = createWatchdog(false, () => {})
    watchdog.kick()
    expect(vi.getTimerCount()).toBe(0)
  })
})
