import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createSseDecoder,
  type SseDecoder,
  type SseDecoderCallbacks,
  type SseDecoderOptions,
} from '../../src/client/sse-decoder.js'
import { referenceSseDecoder } from './sse-decoder.reference.js'

type Seen =
  | { kind: 'event'; message: EventSourceMessage }
  | { kind: 'id'; id: string }
  | { kind: 'retry'; ms: number }

function decode(chunks: string[]): Seen[] {
  const seen: Seen[] = []
  const decoder = createSseDecoder({
    onEvent: (message) => seen.push({ kind: 'event', message }),
    onId: (id) => seen.push({ kind: 'id', id }),
    onRetry: (ms) => seen.push({ kind: 'retry', ms }),
  })
  for (const chunk of chunks) decoder.feed(chunk)
  return seen
}

function events(chunks: string[]): EventSourceMessage[] {
  return decode(chunks).flatMap((s) => (s.kind === 'event' ? [s.message] : []))
}

describe('createSseDecoder', () => {
  it('dispatches a named event with its id and data', () => {
    expect(events(['id: 7\nevent: task.status\ndata: {"a":1}\n\n'])).toEqual([
      { id: '7', event: 'task.status', data: '{"a":1}' },
    ])
  })

  it('reports the id of a block that has no data, in stream order', () => {
    expect(decode(['data: a\nid: 1\n\nid: 2\n\ndata: b\n\n'])).toEqual([
      { kind: 'event', message: { id: '1', event: undefined, data: 'a' } },
      { kind: 'id', id: '2' },
      { kind: 'event', message: { id: undefined, event: undefined, data: 'b' } },
    ])
  })

  it('reports an empty id, which clears the last event id', () => {
    expect(decode(['id\n\n', 'id:\n\n'])).toEqual([
      { kind: 'id', id: '' },
      { kind: 'id', id: '' },
    ])
  })

  it('ignores an id holding NUL, as WHATWG requires', () => {
    expect(decode(['id: a\0b\n\n'])).toEqual([])
  })

  it('does not report an id-only block until its blank line arrives', () => {
    const seen: string[] = []
    const decoder = createSseDecoder({ onEvent: () => {}, onId: (id) => seen.push(id) })
    decoder.feed('id: 9\n')
    expect(seen).toEqual([])
    decoder.feed('\n')
    expect(seen).toEqual(['9'])
  })

  it('treats a CR that ends a chunk as a line break at once', () => {
    const seen: EventSourceMessage[] = []
    const decoder = createSseDecoder({ onEvent: (message) => seen.push(message) })
    decoder.feed('data: x\r\r')
    // eventsource-parser alone would hold the last CR back, waiting to see if LF follows.
    expect(seen).toEqual([{ id: undefined, event: undefined, data: 'x' }])
  })

  it('counts a CR LF split across two chunks as one line break', () => {
    expect(events(['data: a\r', '\ndata: b\r', '\n\r', '\n'])).toEqual([
      { id: undefined, event: undefined, data: 'a\nb' },
    ])
  })

  it('keeps a lone CR followed by more text in the next chunk as a break', () => {
    expect(events(['data: a\r', 'data: b\r\r'])).toEqual([{ id: undefined, event: undefined, data: 'a\nb' }])
  })

  it('accepts LF, CR and CR LF line endings mixed in one stream', () => {
    expect(events(['id: 1\r\ndata: a\rdata: b\n\r\nid: 2\rdata: c\r\r'])).toEqual([
      { id: '1', event: undefined, data: 'a\nb' },
      { id: '2', event: undefined, data: 'c' },
    ])
  })

  it('strips one BOM at the start of the stream only', () => {
    expect(events(['\uFEFFdata: a\n\n'])).toEqual([{ id: undefined, event: undefined, data: 'a' }])
    // A second BOM makes the first line a field named "\uFEFFdata", which is ignored.
    expect(events(['\uFEFF\uFEFFdata: a\n\ndata: b\n\n'])).toEqual([
      { id: undefined, event: undefined, data: 'b' },
    ])
    // A BOM later in the stream is not at the start: it stays part of the field name.
    expect(events(['data: a\n\n', '\uFEFFdata: b\n\n'])).toEqual([
      { id: undefined, event: undefined, data: 'a' },
    ])
  })

  it('strips the BOM even when the first chunk is empty', () => {
    expect(events(['', '\uFEFF', 'data: a\n\n'])).toEqual([{ id: undefined, event: undefined, data: 'a' }])
  })

  it('does not mistake the characters of a mis-decoded BOM for one', () => {
    expect(events(['\u00EF\u00BB\u00BFdata: a\n\ndata: b\n\n'])).toEqual([
      { id: undefined, event: undefined, data: 'b' },
    ])
  })

  it('reassembles lines and multibyte text split anywhere', () => {
    const text = 'id: 1\nevent: note\ndata: héllo ✓\ndata: 🚀\n\n: hb\n\nid: 2\ndata: second\n\n'
    for (let cut = 1; cut < text.length; cut++) {
      expect(events([text.slice(0, cut), text.slice(cut)])).toEqual([
        { id: '1', event: 'note', data: 'héllo ✓\n🚀' },
        { id: '2', event: undefined, data: 'second' },
      ])
    }
  })

  it('delivers every event when fed one character at a time', () => {
    const text = 'retry: 1500\r\nid: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\rid: 3\ndata: c\n\n'
    expect(decode([...text])).toEqual([
      { kind: 'retry', ms: 1500 },
      { kind: 'event', message: { id: '1', event: undefined, data: 'a' } },
      { kind: 'event', message: { id: '2', event: undefined, data: 'b' } },
      { kind: 'event', message: { id: '3', event: undefined, data: 'c' } },
    ])
  })

  it('reports comments, such as heartbeats', () => {
    const comments: string[] = []
    const decoder = createSseDecoder({ onEvent: () => {}, onComment: (c) => comments.push(c) })
    decoder.feed(': hb\n\n:x\r')
    expect(comments).toEqual(['hb', 'x'])
  })

  it('discards a partial block on reset, as a new connection must', () => {
    const seen: EventSourceMessage[] = []
    const decoder = createSseDecoder({ onEvent: (message) => seen.push(message) })
    decoder.feed('id: 1\ndata: half')
    decoder.reset()
    decoder.feed('\uFEFFdata: whole\n\n')
    expect(seen).toEqual([{ id: undefined, event: undefined, data: 'whole' }])
  })

  it('stops reading the old chunk when a callback resets the decoder', () => {
    const seen: string[] = []
    const decoder = createSseDecoder({
      onEvent: (message) => {
        seen.push(message.data)
        if (message.data === 'a') decoder.reset()
      },
    })
    decoder.feed('data: a\n\ndata: b\n\ndata: half')
    decoder.feed('data: c\n\n')
    expect(seen).toEqual(['a', 'c'])
  })

  it('dispatches at a CR that ends a chunk, where eventsource-parser alone holds it back', () => {
    const seen: string[] = []
    const parser = createParser({ onEvent: (message) => seen.push(message.data) })
    parser.feed('data: x\r\r')
    expect(seen).toEqual([])
    const decoded: string[] = []
    createSseDecoder({ onEvent: (message) => decoded.push(message.data) }).feed('data: x\r\r')
    expect(decoded).toEqual(['x'])
  })

  it('gives up on a block that grows past maxEventChars, even without a line break', () => {
    const seen: string[] = []
    const overflows: number[] = []
    const decoder = createSseDecoder(
      { onEvent: (message) => seen.push(message.data), onOverflow: (chars) => overflows.push(chars) },
      { maxEventChars: 64 },
    )
    decoder.feed(`data: ${'x'.repeat(40)}\n\n`)
    decoder.feed(`data: ${'y'.repeat(40)}`)
    expect(overflows).toEqual([])
    decoder.feed('y'.repeat(40))
    expect(overflows).toEqual([86])
    decoder.feed('\n\ndata: ignored\n\n')
    expect(seen).toEqual(['x'.repeat(40)])
    decoder.reset()
    decoder.feed('data: again\n\n')
    expect(seen).toEqual(['x'.repeat(40), 'again'])
  })

  it('counts every line of a block toward maxEventChars', () => {
    const overflows: number[] = []
    const decoder = createSseDecoder(
      { onEvent: () => {}, onOverflow: (c) => overflows.push(c) },
      { maxEventChars: 50 },
    )
    for (let i = 0; i < 10; i++) decoder.feed('data: 0123456789\n')
    expect(overflows).toHaveLength(1)
  })

  it('dispatches an empty data line as an empty message', () => {
    expect(events(['data\n\n', 'data:\n\n'])).toEqual([
      { id: undefined, event: undefined, data: '' },
      { id: undefined, event: undefined, data: '' },
    ])
  })
})

/** Everything a decoder reports, in order. */
type Report =
  | Seen
  | { kind: 'comment'; comment: string }
  | { kind: 'error'; type: string; field: string; value: string; line: string }
  | { kind: 'overflow'; chars: number }

type DecoderFactory = (callbacks: SseDecoderCallbacks, options?: SseDecoderOptions) => SseDecoder

function report(
  create: DecoderFactory,
  chunks: readonly string[],
  options: SseDecoderOptions = {},
): Report[] {
  const seen: Report[] = []
  const decoder = create(
    {
      onEvent: (message) => seen.push({ kind: 'event', message }),
      onId: (id) => seen.push({ kind: 'id', id }),
      onRetry: (ms) => seen.push({ kind: 'retry', ms }),
      onComment: (comment) => seen.push({ kind: 'comment', comment }),
      onInvalidLine: (type, field, value, line) => seen.push({ kind: 'error', type, field, value, line }),
      onOverflow: (chars) => seen.push({ kind: 'overflow', chars }),
    },
    options,
  )
  for (const chunk of chunks) decoder.feed(chunk)
  return seen
}

/** Lines that exercise every rule: fields, bare names, NUL ids, unknown fields, comments. */
const line = fc.constantFrom(
  '',
  '',
  'data: x',
  'data:  two spaces',
  'data',
  'data:',
  'data: é ✓ 🚀',
  'id: 1796186620721-42',
  'id',
  'id:',
  'id: a\0b',
  'event: task.status',
  'event:',
  'retry: 1500',
  'retry: 15x',
  ': hb',
  ':',
  'database: not data',
  'idx: not an id',
  ' data: leading space',
  '\uFEFFdata: not at the start',
)
const stream = fc
  .tuple(fc.boolean(), fc.array(fc.tuple(line, fc.constantFrom('\n', '\n', '\r', '\r\n')), { maxLength: 30 }))
  .map(([bom, lines]) => (bom ? '\uFEFF' : '') + lines.map(([text, end]) => text + end).join(''))

/** `text` cut at random places into non-empty chunks. */
const chunked = (text: string) =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, text.length - 1) }), { maxLength: 12 }).map((cuts) => {
    const at = [0, ...cuts.filter((c) => c < text.length).sort((a, b) => a - b), text.length]
    return at
      .slice(1)
      .map((end, i) => text.slice(at[i], end))
      .filter((chunk) => chunk !== '')
  })

describe('createSseDecoder, for any stream', () => {
  it('reports the same, in the same order, however the text is chunked', () => {
    const cases = stream.chain((text) => fc.tuple(fc.constant(text), chunked(text)))
    fc.assert(
      fc.property(cases, ([text, chunks]) => {
        expect(report(createSseDecoder, chunks)).toEqual(report(createSseDecoder, [text]))
      }),
      { numRuns: 1000 },
    )
  })

  it('reports what the decoder before issue 8 reported: events, ids, retries, comments and parse errors', () => {
    const cases = stream.chain((text) => fc.tuple(fc.constant(text), chunked(text)))
    fc.assert(
      fc.property(cases, ([, chunks]) => {
        expect(report(createSseDecoder, chunks)).toEqual(report(referenceSseDecoder, chunks))
      }),
      { numRuns: 1000 },
    )
  })

  it('overflows however the text is chunked, holding at most maxEventChars plus one chunk', () => {
    const cases = stream.chain((text) =>
      fc.tuple(fc.constant(text), chunked(text), fc.integer({ min: 1, max: 60 })),
    )
    fc.assert(
      fc.property(cases, ([text, chunks, maxEventChars]) => {
        const whole = report(createSseDecoder, [text], { maxEventChars })
        const pieces = report(createSseDecoder, chunks, { maxEventChars })
        // Where the chunks were cut changes how much of the block had arrived when it was
        // given up (and so which of its lines were read), not whether it was, nor which
        // blocks were dispatched before it.
        const shape = (reports: Report[]): Array<Report | 'overflow'> =>
          reports.flatMap((r): Array<Report | 'overflow'> => {
            if (r.kind === 'overflow') return ['overflow']
            return r.kind === 'event' || r.kind === 'id' ? [r] : []
          })
        expect(shape(pieces)).toEqual(shape(whole))
        const longest = Math.max(...chunks.map((chunk) => chunk.length))
        for (const r of pieces) {
          if (r.kind !== 'overflow') continue
          expect(r.chars).toBeGreaterThan(maxEventChars)
          expect(r.chars).toBeLessThanOrEqual(maxEventChars + longest)
        }
      }),
      { numRuns: 1000 },
    )
  })
})

describe('createSseDecoder, beyond the cases above', () => {
  it('keeps a CR and the LF after it one line break across an empty chunk', () => {
    // A TextDecoder hands over '' when a chunk holds only part of a multibyte character.
    expect(events(['data: a\r', '', '\ndata: b\r\r'])).toEqual([
      { id: undefined, event: undefined, data: 'a\nb' },
    ])
  })

  it('reports an id-only block split across chunks after the event before it', () => {
    expect(decode(['data: a\nid: 1\n\nid: 2\n', '\ndata: b\n\n'])).toEqual([
      { kind: 'event', message: { id: '1', event: undefined, data: 'a' } },
      { kind: 'id', id: '2' },
      { kind: 'event', message: { id: undefined, event: undefined, data: 'b' } },
    ])
  })

  it('reports the lines eventsource-parser reports as errors, with their parts', () => {
    const text = 'retry: 1x\nfoo: bar\nan-unknown-field-with-a-long-name\n\n'
    const fromParser: ParseError[] = []
    createParser({ onError: (error) => fromParser.push(error) }).feed(text)
    const fromDecoder: string[][] = []
    createSseDecoder({
      onEvent: () => {},
      onInvalidLine: (...parts) => fromDecoder.push(parts),
    }).feed(text)
    expect(fromParser).toHaveLength(3)
    expect(fromDecoder).toEqual(fromParser.map((e) => [e.type, e.field ?? 'retry', e.value, e.line]))
    expect(fromDecoder).toEqual([
      ['invalid-retry', 'retry', '1x', 'retry: 1x'],
      ['unknown-field', 'foo', 'bar', 'foo: bar'],
      ['unknown-field', 'an-unknown-field-with-a-long-name', '', 'an-unknown-field-with-a-long-name'],
    ])
  })

  it('gives up on a block longer than maxEventChars even when it arrives whole in one chunk', () => {
    const seen: string[] = []
    const overflows: number[] = []
    const decoder = createSseDecoder(
      { onEvent: (message) => seen.push(message.data), onOverflow: (chars) => overflows.push(chars) },
      { maxEventChars: 20 },
    )
    decoder.feed(`data: ok\n\ndata: ${'x'.repeat(20)}\n\ndata: after\n\n`)
    expect(seen).toEqual(['ok'])
    expect(overflows).toEqual([27])
  })

  it('stops reading the old chunk when an id or comment callback resets the decoder', () => {
    const seen: string[] = []
    const decoder: SseDecoder = createSseDecoder({
      onEvent: (message) => seen.push(message.data),
      onId: (id) => {
        seen.push(`id ${id}`)
        decoder.reset()
      },
      onComment: (comment) => {
        seen.push(`: ${comment}`)
        decoder.reset()
      },
    })
    decoder.feed('id: 1\n\ndata: lost\n\n')
    decoder.feed(': hb\ndata: lost\n\n')
    decoder.feed('data: kept\n\n')
    expect(seen).toEqual(['id 1', ': hb', 'kept'])
  })
})
