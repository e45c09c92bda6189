import { describe, expect, it } from 'vitest'
import type { Envelope } from '../../src/core/index.js'
import { createReplayLog } from '../../src/server/index.js'

const envelope = (id: number): Envelope => ({
  type: 'task.created',
  stream: 's',
  id: String(id),
  ts: '',
  data: {},
})

describe('createReplayLog', () => {
  it('keeps the newest maxEvents events and reads after a sequence number', () => {
    const log = createReplayLog({ maxEvents: 3, maxAgeMs: false, now: () => 0 })
    for (let n = 1; n <= 5; n++) log.append(envelope(n))
    expect(log.size).toBe(3)
    expect(log.lastSeq).toBe(5)
    expect(log.after(2).events.map((e) => e.id)).toEqual(['3', '4', '5'])
    expect(log.after(2).expired).toBe(false)
    expect(log.after(4).events.map((e) => e.id)).toEqual(['5'])
    expect(log.after(1)).toMatchObject({ expired: true })
    expect(log.after(5)).toEqual({ events: [], expired: false })
    expect(log.after(6)).toEqual({ events: [], expired: true })
  })

  it('stays correct across compactions of its array', () => {
    const log = createReplayLog({ maxEvents: 10, maxAgeMs: false, now: () => 0 })
    for (let n = 1; n <= 1000; n++) log.append(envelope(n))
    expect(log.after(995).events.map((e) => e.id)).toEqual(['996', '997', '998', '999', '1000'])
    expect(log.after(990).events).toHaveLength(10)
    expect(log.after(989).expired).toBe(true)
  })

  it('drops events older than maxAgeMs', () => {
    let now = 0
    const log = createReplayLog({ maxEvents: false, maxAgeMs: 100, now: () => now })
    log.append(envelope(1))
    now = 50
    log.append(envelope(2))
    now = 120
    log.trim()
    expect(log.size).toBe(1)
    expect(log.after(0).expired).toBe(true)
    expect(log.after(1)).toEqual({ events: [envelope(2)], expired: false })
  })
})
