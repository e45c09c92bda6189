import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type EventFields, formatEvent } from '../../src/core/index.js'
import { cutsWithin, eventFields } from './support/arbitraries.js'
import { type ReadBack, readBytes, readText, splitBytes, utf8 } from './support/sse.js'

/** What a conforming reader must report for a stream of these frames, per the WHATWG parser. */
function expected(frames: readonly EventFields[]): Omit<ReadBack, 'errors'> {
  return {
    events: frames
      .filter((f) => f.data !== undefined)
      .map((f) => ({ id: f.id, event: f.event, data: (f.data ?? '').replace(/\r\n|\r/g, '\n') })),
    retries: frames.flatMap((f) => (f.retry === undefined ? [] : [f.retry])),
    comments: frames.flatMap((f) => (f.comment === undefined ? [] : [f.comment])),
  }
}

function expectReadBack(read: ReadBack, frames: readonly EventFields[]): void {
  expect(read.errors).toEqual([])
  expect({ events: read.events, retries: read.retries, comments: read.comments }).toEqual(expected(frames))
}

describe('formatEvent, for any valid fields', () => {
  it('writes a frame that eventsource-parser reads back as the same fields', () => {
    fc.assert(
      fc.property(eventFields, (fields) => {
        expectReadBack(readText(formatEvent(fields)), [fields])
      }),
      { numRuns: 500 },
    )
  })

  it('writes streams of frames that read back the same however the text is chunked', () => {
    const stream = fc.array(eventFields, { minLength: 1, maxLength: 6 }).chain((frames) => {
      const text = frames.map(formatEvent).join('')
      return fc.tuple(fc.constant(frames), fc.constant(text), cutsWithin(text.length))
    })
    fc.assert(
      fc.property(stream, ([frames, text, cuts]) => {
        const pieces = [0, ...cuts].map((start, i) => text.slice(start, cuts[i] ?? text.length))
        expectReadBack(readText(...pieces), frames)
      }),
      { numRuns: 300 },
    )
  })

  it('writes streams of frames that read back the same however the UTF-8 bytes are chunked', () => {
    const stream = fc.array(eventFields, { minLength: 1, maxLength: 6 }).chain((frames) => {
      const bytes = utf8(frames.map(formatEvent).join(''))
      return fc.tuple(fc.constant(frames), fc.constant(bytes), cutsWithin(bytes.length))
    })
    fc.assert(
      fc.property(stream, ([frames, bytes, cuts]) => {
        expectReadBack(readBytes(splitBytes(bytes, cuts)), frames)
      }),
      { numRuns: 300 },
    )
  })
})
