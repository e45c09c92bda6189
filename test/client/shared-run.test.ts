import { afterEach, describe, expect, it, vi } from 'vitest'
import { connect } from '../../src/client/connect.js'
import { acquireRun, idleRunSnapshot, runRef } from '../../src/client/shared-run.js'
import type { Transport } from '../../src/client/transport.js'

// Nothing here subscribes, so nothing connects: these URLs are never requested.
const URL = 'http://127.0.0.1:9/api/runs/run-1/events'

afterEach(() => {
  vi.useRealTimers()
})

describe('acquireRun', () => {
  it('shares one handle for the same URL and equal options written anew', () => {
    const first = acquireRun(URL, { headers: { authorization: 'Bearer t' }, closeOn: ['run.completed'] })
    const second = acquireRun(URL, { closeOn: ['run.completed'], headers: { authorization: 'Bearer t' } })
    expect(second.handle).toBe(first.handle)
    expect(second.getSnapshot()).toBe(first.getSnapshot())
    first.release()
    second.release()
  })

  it('gives other options, another URL or another function their own handle', () => {
    const headers = () => ({ authorization: 'Bearer t' })
    const base = acquireRun(URL, { headers })
    const leases = [
      acquireRun(URL, { headers: () => ({ authorization: 'Bearer t' }) }),
      acquireRun(URL, { headers: { authorization: 'Bearer u' } }),
      acquireRun(`${URL}?x=1`, { headers }),
      acquireRun(URL, { headers, lingerMs: 10 }),
    ]
    for (const lease of leases) expect(lease.handle).not.toBe(base.handle)
    const again = acquireRun(URL, { headers })
    expect(again.handle).toBe(base.handle)
    expect(runRef(URL, { headers, lingerMs: undefined }).key).toBe(runRef(URL, { headers }).key)
    for (const lease of [base, again, ...leases]) lease.release()
  })

  it('keys transports and other objects by identity', () => {
    const transport: Transport = { name: 'x', check: () => undefined, open: () => {} }
    expect(runRef(URL, { transport }).key).toBe(runRef(URL, { transport }).key)
    expect(runRef(URL, { transport: { ...transport } }).key).toBe(runRef(URL, { transport }).key)
    const signal = new AbortController().signal
    expect(runRef(URL, { signal }).key).not.toBe(runRef(URL, { signal: new AbortController().signal }).key)
  })

  it('starts from the idle snapshot, and finds nothing before an acquire', () => {
    const ref = runRef(`${URL}?fresh`)
    expect(ref.find()).toBeUndefined()
    const lease = ref.acquire()
    expect(ref.find()?.handle).toBe(lease.handle)
    expect(lease.getSnapshot()).toBe(idleRunSnapshot)
    lease.release()
  })

  it('closes the handle lingerMs after the last release, unless acquired again meanwhile', () => {
    vi.useFakeTimers()
    const url = `${URL}?linger`
    const first = acquireRun(url)
    first.release()
    first.release() // a second release of the same lease changes nothing
    vi.advanceTimersByTime(249)
    const again = acquireRun(url)
    expect(again.handle).toBe(first.handle)
    vi.advanceTimersByTime(1000)
    expect(again.handle.status).toBe('idle')

    again.release()
    vi.advanceTimersByTime(250)
    expect(again.handle.status).toBe('closed')
    expect(runRef(url).find()).toBeUndefined()
    const fresh = acquireRun(url)
    expect(fresh.handle).not.toBe(first.handle)
    fresh.release()
  })

  it('shares one fold per handle passed in, and never closes that handle', () => {
    vi.useFakeTimers()
    const handle = connect(URL)
    const first = acquireRun(handle)
    const second = acquireRun(handle, { lingerMs: 1 })
    expect(second.getSnapshot()).toBe(first.getSnapshot())
    expect(second.handle).toBe(handle)
    first.release()
    second.release()
    vi.advanceTimersByTime(10_000)
    expect(handle.status).toBe('idle')
    handle.close()
  })
})
