import { describe, expect, it } from 'vitest'
import { decodeEvent, defaultCatalog, type Envelope, encodeEvent, formatEvent } from '../../src/core/index.js'
import { type ReadBack, readBytes, readText, splitBytes, utf8 } from './support/sse.js'

const ts = '2026-11-21T10:00:00.000Z'

/** A stream as a hub writes it: retry on open, frames of several shapes, a heartbeat. */
function sampleStream(): string {
  const envelopes: Envelope[] = [
    { type: 'task.created', stream: 'job-7', id: '1', ts, data: { taskId: 't1', title: 'Écrire 文档 😀' } },
    {
      type: 'agent.progress',
      stream: 'job-7',
      id: '2',
      ts,
      data: { role: 'tech-lead', message: 'Thinking…\nstill' },
    },
  ]
  return [
    formatEvent({ retry: 2000 }),
    encodeEvent(envelopes[0] as Envelope),
    formatEvent({ comment: 'hb' }),
    encodeEvent(envelopes[1] as Envelope, { framing: 'data-only' }),
    formatEvent({ id: '3', event: 'note', data: ' lead\r\n🧪 二\rthree' }),
    formatEvent({ data: '' }),
  ].join('')
}

function expectSample(read: ReadBack): void {
  expect(read.errors).toEqual([])
  expect(read.retries).toEqual([2000])
  expect(read.comments).toEqual(['hb'])
  expect(read.events.map((e) => [e.id, e.event])).toEqual([
    ['1', 'task.created'],
    ['2', undefined],
    ['3', 'note'],
    [undefined, undefined],
  ])
  expect(read.events[2]?.data).toBe(' lead\n🧪 二\nthree')
  expect(read.events[3]?.data).toBe('')
  const first = decodeEvent(read.events[0] ?? { data: '' }, defaultCatalog)
  expect(first.ok && first.value.type === 'task.created' && first.value.data.title).toBe('Écrire 文档 😀')
  const second = decodeEvent(read.events[1] ?? { data: '' }, defaultCatalog)
  expect(second.ok && second.value.type === 'agent.progress' && second.value.data.message).toBe(
    'Thinking…\nstill',
  )
}

/** Reads a byte stream through a real `Response` body and `TextDecoderStream`, as a fetch client does. */
async function readResponse(chunks: readonly Uint8Array[]): Promise<ReadBack> {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk)
      controller.close()
    },
  })
  const reader = new Response(body).body?.pipeThrough(new TextDecoderStream()).getReader()
  if (!reader) throw new Error('the response has no body')
  const texts: string[] = []
  for (let i = 0; i <= chunks.length + 1; i++) {
    const { done, value } = await reader.read()
    if (done) return readText(...texts)
    texts.push(value)
  }
  throw new Error('the stream did not end after all its chunks were read')
}

describe('an event stream written by formatEvent and encodeEvent', () => {
  it('reads back the same when split into two chunks at every byte position', () => {
    const bytes = utf8(sampleStream())
    expect(bytes.length).toBeGreaterThan(200)
    expectSample(readBytes([bytes]))
    for (let cut = 1; cut < bytes.length; cut++) expectSample(readBytes(splitBytes(bytes, [cut])))
  })

  it('reads back the same when split into three chunks at every pair of nearby byte positions', () => {
    const bytes = utf8(sampleStream())
    for (let a = 1; a < bytes.length - 1; a++) {
      for (let b = a + 1; b < Math.min(bytes.length, a + 8); b++)
        expectSample(readBytes(splitBytes(bytes, [a, b])))
    }
  })

  it('reads back the same when delivered one byte at a time', () => {
    const bytes = utf8(sampleStream())
    const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)
    expectSample(readBytes(splitBytes(bytes, cuts)))
  })

  it('reads back the same through a Response body and TextDecoderStream', async () => {
    const bytes = utf8(sampleStream())
    expectSample(await readResponse([bytes]))
    expectSample(await readResponse(splitBytes(bytes, [1, 2, 3, 50, 51, 52, 53, 120])))
  })

  it.each([
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('reads the same frames when a proxy rewrites line endings to %s, split at every byte', (_name, eol) => {
    // WHATWG "Parsing an event stream": end-of-line is CRLF, a lone LF or a lone CR.
    // A CR that ends the received bytes may be the first half of a CRLF, so a streaming
    // reader holds it until the next byte; a live stream always sends one (here a comment).
    const bytes = utf8(`${sampleStream()}: next\n`.replace(/\r\n|\r|\n/g, eol))
    for (let cut = 1; cut < bytes.length; cut++) {
      const read = readBytes(splitBytes(bytes, [cut]))
      expect(read.events).toHaveLength(4)
      expect(read.events[2]?.data).toBe(' lead\n🧪 二\nthree')
      expect(read.events[0]?.event).toBe('task.created')
      expect(read.retries).toEqual([2000])
    }
  })

  it('ignores one leading byte order mark, even when it is split across chunks', () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf])
    const bytes = new Uint8Array([...bom, ...utf8(sampleStream())])
    for (const cut of [1, 2, 3, 4]) expectSample(readBytes(splitBytes(bytes, [cut])))
  })

  it('ignores only the first byte order mark: a second one makes the first line an unknown field', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8(`\ufeff${formatEvent({ data: 'x' })}`)])
    const read = readBytes([bytes])
    expect(read.events).toEqual([])
    expect(read.errors.map((e) => e.type)).toEqual(['unknown-field'])
  })

  it('reassembles 4-byte emoji and 3-byte CJK characters cut inside them at every byte', () => {
    const frame = formatEvent({ id: '😀', event: '中', data: '😀中😀' })
    const bytes = utf8(frame)
    for (let cut = 1; cut < bytes.length - 1; cut++) {
      // A one-byte chunk between two others leaves a character in three pieces.
      const read = readBytes(splitBytes(bytes, [cut, cut + 1]))
      expect(read.events).toEqual([{ id: '😀', event: '中', data: '😀中😀' }])
    }
  })

  it('round-trips a 1 MB multibyte payload split into 64 KiB network chunks', () => {
    const unit = 'progress 進捗 😀 '
    const payload = unit.repeat(Math.ceil((1024 * 1024) / utf8(unit).length))
    const envelope: Envelope = {
      type: 'node.completed',
      stream: 'run-1',
      id: '99',
      ts,
      data: { nodeId: 'big', output: { text: payload } },
    }
    const bytes = utf8(encodeEvent(envelope))
    expect(bytes.length).toBeGreaterThan(1024 * 1024)
    const cuts: number[] = []
    for (let at = 65_536; at < bytes.length; at += 65_536) cuts.push(at)
    const read = readBytes(splitBytes(bytes, cuts))
    expect(read.events).toHaveLength(1)
    const decoded = decodeEvent(read.events[0] ?? { data: '' }, defaultCatalog)
    expect(decoded.ok).toBe(true)
    expect(decoded.ok && decoded.value).toEqual(envelope)
  })
})
