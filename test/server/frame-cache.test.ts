import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatEvent } from '../../src/core/index.js'
import { createFrameCache, exceedsUtf8Bytes, measureNamedFrame } from '../../src/server/frame-cache.js'

describe('measureNamedFrame', () => {
  // Any text, astral characters and lone surrogates included, as a careless producer may send.
  const text = fc.string({ unit: 'binary', maxLength: 40 })
  const ts = fc.date({ noInvalidDate: true }).map((date) => date.toISOString())

  it('gives the length and the size check of the frame the hub then writes, without writing it', () => {
    const frames = createFrameCache()
    fc.assert(
      fc.property(
        // An event name may be any text but for the line breaks and NUL a frame cannot hold.
        text.filter((type) => type !== '' && !/[\r\n\0]/.test(type)),
        text,
        ts,
        fc.jsonValue(),
        fc.integer({ min: 0, max: 400 }),
        (type, stream, time, data, limit) => {
          const dataJson = JSON.stringify(data) ?? 'null'
          const frame = frames.frame({ type, stream, id: '', ts: time, data, dataJson }, 'named')
          const measured = measureNamedFrame(type, stream, time, dataJson, limit)
          expect(measured.chars).toBe(frame.length)
          expect(measured.tooLarge).toBe(exceedsUtf8Bytes(frame, limit))
          expect(measureNamedFrame(type, stream, time, dataJson, false)).toEqual({
            chars: frame.length,
            tooLarge: false,
          })
        },
      ),
      { numRuns: 3_000 },
    )
  })
})

describe('createFrameCache', () => {
  const event = (overrides: Record<string, unknown> = {}) => ({
    type: 'task.status',
    stream: 'job-7',
    id: '1700000000000-3',
    ts: '2026-11-21T10:00:00.000Z',
    data: { taskId: 't1', note: 'a\nb' },
    dataJson: JSON.stringify({ taskId: 't1', note: 'a\nb' }),
    ...overrides,
  })

  it('writes the frame formatEvent writes for the envelope, in both framings', () => {
    const frames = createFrameCache()
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary', maxLength: 20 }), (data, stream) => {
        const envelope = event({ data, dataJson: JSON.stringify(data) ?? 'null', stream })
        const { dataJson: _json, ...plain } = envelope
        const json = JSON.stringify(plain)
        expect(frames.frame(envelope, 'named')).toBe(
          formatEvent({ id: envelope.id, event: envelope.type, data: json }),
        )
        expect(frames.frame(envelope, 'data-only')).toBe(formatEvent({ id: envelope.id, data: json }))
      }),
      { numRuns: 500 },
    )
  })

  it('keeps a payload JSON holding raw line breaks (from a foreign store) inside data lines', () => {
    const frames = createFrameCache()
    const frame = frames.frame(event({ dataJson: '{"note":"x"\n,"event":"forged"}' }), 'named')
    // Every line of the frame is a field the hub meant: no line starts a field of its own.
    expect(frame.split('\n').filter((line) => line !== '')).toEqual([
      'id: 1700000000000-3',
      'event: task.status',
      'data: {"type":"task.status","stream":"job-7","id":"1700000000000-3","ts":"2026-11-21T10:00:00.000Z","data":{"note":"x"',
      'data: ,"event":"forged"}}',
    ])
  })

  it('refuses an id or a type that would end its field early', () => {
    const frames = createFrameCache()
    expect(() => frames.frame(event({ id: '1\nevent: x' }), 'named')).toThrow(/CR, LF or NUL/)
    expect(() => frames.frame(event({ type: 'a\rb' }), 'named')).toThrow(/CR, LF or NUL/)
  })

  it('frames a frozen envelope too, each time, and a cached one from the cache', () => {
    const frames = createFrameCache()
    const frozen = Object.freeze(event())
    expect(frames.frame(frozen, 'named')).toBe(frames.frame(frozen, 'named'))
    const open = event()
    const first = frames.frame(open, 'data-only')
    expect(frames.frame(open, 'data-only')).toBe(first)
    // The cache stays out of what the event serializes to and of its keys.
    expect(Object.keys(open)).toEqual(['type', 'stream', 'id', 'ts', 'data', 'dataJson'])
    expect(JSON.parse(JSON.stringify(open))).toEqual(event())
  })
})
