import { describe, expect, it } from 'vitest'
import { readLastEventId } from '../../src/server/last-event-id.js'

describe('readLastEventId', () => {
  it('prefers the Last-Event-ID header to the lastEventId query parameter', () => {
    expect(readLastEventId('7', '/events/job-1?lastEventId=3')).toBe('7')
  })

  it('falls back to the query parameter of a bare path, an absolute URL or a URL object', () => {
    expect(readLastEventId(undefined, '/events/job-1?lastEventId=3')).toBe('3')
    expect(readLastEventId(null, 'https://app.test/events/job-1?x=1&lastEventId=1700000000000-2#top')).toBe(
      '1700000000000-2',
    )
    expect(readLastEventId(null, new URL('https://app.test/e?lastEventId=42'))).toBe('42')
  })

  it('decodes the query parameter', () => {
    expect(readLastEventId(null, '/e?lastEventId=a%20b%2Fc')).toBe('a b/c')
  })

  it('reads an empty header or parameter as no cursor, as EventSource sends none then', () => {
    expect(readLastEventId('', '/e?lastEventId=5')).toBe('5')
    expect(readLastEventId('', '/e?lastEventId=')).toBeNull()
    expect(readLastEventId(undefined, '/e')).toBeNull()
    expect(readLastEventId(undefined, '/e#lastEventId=5')).toBeNull()
  })
})

describe('readLastEventId with header bytes', () => {
  it('decodes a header whose characters are the UTF-8 bytes of the id', () => {
    const latin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1')
    expect(readLastEventId(latin1('é…'), '/e')).toBe('é…')
    expect(readLastEventId(latin1('\uFEFFid'), '/e')).toBe('\uFEFFid')
    expect(readLastEventId(latin1('ü'), '/e?lastEventId=3')).toBe('ü')
  })

  it('keeps a header that is not valid UTF-8 as bytes, or that a runtime already decoded', () => {
    expect(readLastEventId('\u00e9', '/e')).toBe('\u00e9')
    expect(readLastEventId('\u00c3', '/e')).toBe('\u00c3')
    expect(readLastEventId('a…b', '/e')).toBe('a…b')
  })

  it('decodes the query parameter as UTF-8 percent-encoding, not as header bytes', () => {
    expect(readLastEventId(null, `/e?lastEventId=${encodeURIComponent('é…')}`)).toBe('é…')
    expect(readLastEventId(null, `/e?lastEventId=${encodeURIComponent('Ã©')}`)).toBe('Ã©')
  })
})
