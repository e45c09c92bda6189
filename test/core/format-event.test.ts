import { describe, expect, it } from 'vitest'
import { type EventFields, formatEvent, isTaskwireError, TaskwireError } from '../../src/core/index.js'
import { readText } from './support/sse.js'

/** The error `formatEvent` throws for `fields`, or a failure when it writes a frame instead. */
function rejection(fields: EventFields): TaskwireError {
  try {
    const frame = formatEvent(fields)
    throw new Error(`expected a rejection, got the frame ${JSON.stringify(frame)}`)
  } catch (error) {
    if (!(error instanceof TaskwireError)) throw error
    return error
  }
}

describe('formatEvent', () => {
  describe('writes frames a conforming reader reads back field for field', () => {
    it('writes comment, retry, id, event and data lines, then the blank line that dispatches', () => {
      const frame = formatEvent({ comment: 'c', retry: 10, id: '7', event: 'task.status', data: '{}' })
      expect(frame).toBe(': c\nretry: 10\nid: 7\nevent: task.status\ndata: {}\n\n')
      expect(readText(frame)).toEqual({
        events: [{ id: '7', event: 'task.status', data: '{}' }],
        retries: [10],
        comments: ['c'],
        errors: [],
      })
    })

    it('writes a frame with no field as a lone blank line that dispatches nothing', () => {
      expect(formatEvent({})).toBe('\n')
      expect(readText(formatEvent({})).events).toEqual([])
    })

    it.each([
      ['LF', 'a\nb\nc'],
      ['CR', 'a\rb\rc'],
      ['CRLF', 'a\r\nb\r\nc'],
    ])('splits data holding %s breaks into several data lines that read back joined by LF', (_name, data) => {
      const frame = formatEvent({ data })
      expect(frame).toBe('data: a\ndata: b\ndata: c\n\n')
      expect(readText(frame).events).toEqual([{ data: 'a\nb\nc' }])
    })

    it('counts CRLF as one break but CR followed by CR as two', () => {
      const frame = formatEvent({ data: 'a\r\n\rb\n\nc' })
      expect(frame).toBe('data: a\ndata: \ndata: b\ndata: \ndata: c\n\n')
      expect(readText(frame).events[0]?.data).toBe('a\n\nb\n\nc')
    })

    it('keeps a trailing line break, since readers strip only the LF of the last data line', () => {
      expect(readText(formatEvent({ data: 'done\n' })).events).toEqual([{ data: 'done\n' }])
      expect(readText(formatEvent({ data: '\r\n' })).events).toEqual([{ data: '\n' }])
    })

    it('dispatches an event whose data is the empty string', () => {
      const frame = formatEvent({ event: 'ping', data: '' })
      expect(frame).toBe('event: ping\ndata: \n\n')
      expect(readText(frame).events).toEqual([{ event: 'ping', data: '' }])
    })

    it('keeps a leading space in data, because readers remove only the one after the colon', () => {
      expect(formatEvent({ data: ' x' })).toBe('data:  x\n\n')
      expect(readText(formatEvent({ data: ' x' })).events[0]?.data).toBe(' x')
      expect(readText(formatEvent({ data: '  two\n three' })).events[0]?.data).toBe('  two\n three')
      expect(readText(formatEvent({ data: '\tt' })).events[0]?.data).toBe('\tt')
    })

    it('keeps data that looks like other fields, colons, NUL and non-ASCII text as data', () => {
      const data = 'id: 9\nevent: x\n: not a comment\nretry: 1\nkey: value\0 é 中文 😀'
      expect(readText(formatEvent({ data })).events).toEqual([{ data }])
    })

    it('writes an id, with a leading space kept and the empty id kept (it resets the last id)', () => {
      expect(readText(formatEvent({ id: ' 7', data: 'x' })).events).toEqual([{ id: ' 7', data: 'x' }])
      expect(formatEvent({ id: '', data: 'x' })).toBe('id: \ndata: x\n\n')
      expect(readText(formatEvent({ id: '', data: 'x' })).events).toEqual([{ id: '', data: 'x' }])
    })

    it('writes non-ASCII event names and ids unchanged', () => {
      const frame = formatEvent({ id: 'é-1', event: 'tâche.créée', data: 'x' })
      expect(readText(frame).events).toEqual([{ id: 'é-1', event: 'tâche.créée', data: 'x' }])
    })

    it('writes an empty event name, which readers treat as the default "message" type', () => {
      // WHATWG "Interpreting an event stream": an empty event type buffer dispatches `message`.
      expect(formatEvent({ event: '', data: 'x' })).toBe('event: \ndata: x\n\n')
      expect(readText(formatEvent({ event: '', data: 'x' })).events).toEqual([{ data: 'x' }])
    })

    it('writes an id or event without data that sets reader state but dispatches nothing', () => {
      expect(readText(formatEvent({ id: '4', event: 'x' })).events).toEqual([])
    })

    it('writes retry as an integer field and dispatches no event for it', () => {
      const read = readText(formatEvent({ retry: 2000 }), formatEvent({ retry: 0 }))
      expect(read.retries).toEqual([2000, 0])
      expect(read.events).toEqual([])
      expect(formatEvent({ retry: Number.MAX_SAFE_INTEGER })).toBe(`retry: ${Number.MAX_SAFE_INTEGER}\n\n`)
    })

    it('writes comments that readers hand over without dispatching, a leading space kept', () => {
      const read = readText(
        formatEvent({ comment: 'hb' }),
        formatEvent({ comment: '' }),
        formatEvent({ comment: ' x' }),
      )
      expect(read.comments).toEqual(['hb', '', ' x'])
      expect(read.events).toEqual([])
      expect(formatEvent({ comment: 'hb' })).toBe(': hb\n\n')
    })

    it('writes a comment holding NUL, which cannot end a line', () => {
      expect(readText(formatEvent({ comment: 'a\0b' })).comments).toEqual(['a\0b'])
    })
  })

  describe('rejects fields a reader would read back as something else', () => {
    it.each([
      ['LF', 'a\nb'],
      ['CR', 'a\rb'],
      ['CRLF', 'a\r\nb'],
      ['NUL', 'a\0b'],
    ])('rejects an id holding %s', (_name, id) => {
      const error = rejection({ id, data: 'x' })
      expect(error.code).toBe('invalid-frame')
      expect(isTaskwireError(error)).toBe(true)
      expect(error.message).toMatch(/id/)
    })

    it.each([
      ['LF', 'a\nb'],
      ['CR', 'a\rb'],
      ['CRLF', 'a\r\nb'],
      ['NUL', 'a\0b'],
    ])('rejects an event name holding %s', (_name, event) => {
      expect(rejection({ event, data: 'x' }).code).toBe('invalid-frame')
    })

    it.each([
      ['LF', 'a\nb'],
      ['CR', 'a\rb'],
      ['CRLF', 'a\r\nb'],
    ])('rejects a comment holding %s', (_name, comment) => {
      expect(rejection({ comment }).code).toBe('invalid-frame')
    })

    it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])(
      'rejects retry %s, which is not a non-negative safe integer',
      (retry) => {
        expect(rejection({ retry }).code).toBe('invalid-frame')
      },
    )

    it('writes nothing of a frame when any field is rejected', () => {
      // The frame is built before it is returned, so a caller that catches gets no partial text.
      let written = ''
      expect(() => {
        written = formatEvent({ comment: 'ok', data: 'ok', id: 'bad\n' })
      }).toThrow(TaskwireError)
      expect(written).toBe('')
    })
  })
})
