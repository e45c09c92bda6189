import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
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
