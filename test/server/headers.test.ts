import { describe, expect, it } from 'vitest'
import { sseHeaders, sseHeadersFor } from '../../src/server/index.js'

describe('sseHeaders', () => {
  it('holds the headers an SSE response over HTTP/1.1 needs', () => {
    expect(sseHeaders).toEqual({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
    expect(Object.isFrozen(sseHeaders)).toBe(true)
  })

  it('omits Connection for HTTP/2 and later, which forbid it', () => {
    expect(sseHeadersFor('1.1')).toBe(sseHeaders)
    expect(sseHeadersFor('1.0')).toBe(sseHeaders)
    for (const version of ['2.0', '2', 3]) {
      const headers = sseHeadersFor(version)
      expect(headers).not.toHaveProperty('Connection')
      expect(headers['Content-Type']).toBe('text/event-stream; charset=utf-8')
      expect(headers['Cache-Control']).toBe('no-cache, no-transform')
    }
  })
})
