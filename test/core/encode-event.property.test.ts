import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeEvent, defaultCatalog, encodeEvent, type Framing } from '../../src/core/index.js'
import { cutsWithin, defaultEnvelope } from './support/arbitraries.js'
import { readBytes, readText, splitBytes, utf8 } from './support/sse.js'

const framing = fc.constantFrom<Framing>('named', 'data-only')

describe('encodeEvent then decodeEvent, for any valid envelope of the default catalog', () => {
  it('gives back the same envelope through eventsource-parser, under either framing', () => {
    fc.assert(
      fc.property(defaultEnvelope, framing, (envelope, mode) => {
        const read = readText(encodeEvent(envelope, { framing: mode }))
        expect(read.events).toHaveLength(1)
        const message = read.events[0] ?? { data: '' }
        expect(message.id).toBe(envelope.id)
        expect(message.event).toBe(mode === 'named' ? envelope.type : undefined)
        expect(decodeEvent(message, defaultCatalog)).toEqual({ ok: true, value: envelope })
      }),
      { numRuns: 500 },
    )
  })

  it('gives back every envelope of a stream whose bytes arrive in arbitrary chunks', () => {
    const stream = fc
      .array(fc.tuple(defaultEnvelope, framing), { minLength: 1, maxLength: 5 })
      .chain((items) => {
        const bytes = utf8(items.map(([envelope, mode]) => encodeEvent(envelope, { framing: mode })).join(''))
        return fc.tuple(fc.constant(items), fc.constant(bytes), cutsWithin(bytes.length))
      })
    fc.assert(
      fc.property(stream, ([items, bytes, cuts]) => {
        const decoded = readBytes(splitBytes(bytes, cuts)).events.map((m) => decodeEvent(m, defaultCatalog))
        expect(decoded).toEqual(items.map(([envelope]) => ({ ok: true, value: envelope })))
      }),
      { numRuns: 200 },
    )
  })
})
