import { describe, expect, it } from 'vitest'
import { defineCatalog, type TaskwireError, TaskwireValidationError } from '../../src/core/index.js'
import {
  parseEvent,
  parseEventRequest,
  validationErrorBody,
  validationErrorResponse,
  validationErrorStatus,
} from '../../src/server/index.js'

function failure(run: () => unknown): TaskwireValidationError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(TaskwireValidationError)
    return error as TaskwireValidationError
  }
  throw new Error('expected a validation error')
}

describe('parseEvent', () => {
  it('returns the typed event of a valid body', () => {
    const event = parseEvent({ type: 'task.status', data: { taskId: 't1', status: 'completed' } })
    expect(event).toEqual({ type: 'task.status', data: { taskId: 't1', status: 'completed' } })
  })

  it('reads a string body as JSON', () => {
    expect(parseEvent('{"type":"task.deleted","data":{"taskId":"t1"}}')).toEqual({
      type: 'task.deleted',
      data: { taskId: 't1' },
    })
  })

  it('lists each invalid field with its path', () => {
    const error = failure(() =>
      parseEvent({ type: 'task.status', data: { taskId: '', status: 'done', percent: 120 } }),
    )
    expect(error.code).toBe('invalid-event')
    expect(error.issues.map((issue) => issue.path).sort()).toEqual([
      'data.percent',
      'data.status',
      'data.taskId',
    ])
    for (const issue of error.issues) expect(issue.message).not.toBe('')
  })

  it('reports an unknown type', () => {
    const error = failure(() => parseEvent({ type: 'task.exploded', data: {} }))
    expect(error.code).toBe('unknown-event-type')
    expect(error.issues).toEqual([expect.objectContaining({ path: 'type', code: 'unknown-event-type' })])
  })

  it.each([
    ['null', null, ''],
    ['a number', 42, ''],
    ['an array', [], ''],
    ['text that is not JSON', '{type:', ''],
    ['an object without type', { data: {} }, 'type'],
    ['an object with a numeric type', { type: 7, data: {} }, 'type'],
  ])('turns %s into a 400-ready error', (_, body, path) => {
    const error = failure(() => parseEvent(body))
    expect(error.code).toBe('invalid-event')
    expect(error.issues[0]?.path).toBe(path)
  })

  it('validates against a custom catalog and types the result by it', async () => {
    const { z } = await import('zod')
    const catalog = defineCatalog({ 'build.finished': z.object({ ok: z.boolean() }) })
    const event = parseEvent({ type: 'build.finished', data: { ok: true } }, { catalog })
    expect(event.data.ok).toBe(true)
    expect(failure(() => parseEvent({ type: 'task.created', data: { taskId: 't' } }, { catalog })).code).toBe(
      'unknown-event-type',
    )
  })
})

describe('parseEvent refuses events only the server may send', () => {
  it.each([
    ['stream.snapshot', { state: { status: 'completed' } }],
    ['stream.reset', { state: { status: 'completed' }, reason: 'cursor-expired' }],
  ])('refuses a forged %s with reserved-event-type on the path type', (type, data) => {
    const error = failure(() => parseEvent({ type, data }))
    expect(error.code).toBe('reserved-event-type')
    expect(error.issues).toEqual([
      { path: 'type', message: expect.stringContaining(type), code: 'reserved-event-type' },
    ])
    expect(validationErrorStatus(error)).toBe(400)
  })

  it('refuses a stream.* type even when a custom catalog declares it', async () => {
    const { z } = await import('zod')
    const catalog = defineCatalog({ 'stream.custom': z.object({}) })
    expect(failure(() => parseEvent({ type: 'stream.custom', data: {} }, { catalog })).code).toBe(
      'reserved-event-type',
    )
  })
})

describe('parseEvent bounds the body', () => {
  const event = (note: string): string =>
    JSON.stringify({ type: 'task.status', data: { taskId: 't1', status: 'in_progress', note } })

  it('refuses a text body past maxBodyBytes with body-too-large, answered 413', async () => {
    const body = event('x'.repeat(200))
    const error = failure(() => parseEvent(body, { maxBodyBytes: 100 }))
    expect(error.code).toBe('body-too-large')
    expect(error.issues).toEqual([{ path: '', message: expect.stringContaining('100'), code: 'too_big' }])
    const response = validationErrorResponse(error)
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: { code: 'body-too-large' } })
  })

  it('counts UTF-8 bytes, not characters', () => {
    const body = event('é'.repeat(40))
    expect(body.length).toBeLessThanOrEqual(120)
    expect(new TextEncoder().encode(body).byteLength).toBeGreaterThan(120)
    expect(failure(() => parseEvent(body, { maxBodyBytes: 120 })).code).toBe('body-too-large')
    expect(parseEvent(body, { maxBodyBytes: 200 }).type).toBe('task.status')
  })

  it('reads a byte body (express.raw) within the bound and refuses one past it', () => {
    const bytes = new TextEncoder().encode(event('ok'))
    expect(parseEvent(bytes)).toMatchObject({ data: { note: 'ok' } })
    expect(failure(() => parseEvent(bytes, { maxBodyBytes: bytes.byteLength - 1 })).code).toBe(
      'body-too-large',
    )
    expect(failure(() => parseEvent(new Uint8Array([0xff, 0xfe]))).issues[0]?.code).toBe('invalid_encoding')
  })

  it('bounds bodies at 1 MiB by default, and not at all with false', () => {
    const body = event('x'.repeat(1_048_576))
    expect(failure(() => parseEvent(body)).code).toBe('body-too-large')
    expect(parseEvent(body, { maxBodyBytes: false }).type).toBe('task.status')
  })

  it.each([0, -1, 1.5, Number.NaN])('refuses maxBodyBytes %s as an invalid option', (maxBodyBytes) => {
    expect(() => parseEvent('{}', { maxBodyBytes })).toThrow(
      expect.objectContaining({ code: 'invalid-option' }) as unknown as TaskwireError,
    )
  })
})

describe('parseEventRequest', () => {
  it('reads the event from a Web request', async () => {
    const request = new Request('http://app.test/hook', {
      method: 'POST',
      body: JSON.stringify({ type: 'agent.completed', data: { role: 'qa', durationMs: 10 } }),
    })
    expect(await parseEventRequest(request)).toEqual({
      type: 'agent.completed',
      data: { role: 'qa', durationMs: 10 },
    })
  })

  it('rejects a body that is not JSON with a validation error', async () => {
    const request = new Request('http://app.test/hook', { method: 'POST', body: 'not json' })
    await expect(parseEventRequest(request)).rejects.toBeInstanceOf(TaskwireValidationError)
  })

  it('refuses a forged stream.snapshot', async () => {
    const request = new Request('http://app.test/hook', {
      method: 'POST',
      body: JSON.stringify({ type: 'stream.snapshot', data: { state: { status: 'completed' } } }),
    })
    await expect(parseEventRequest(request)).rejects.toMatchObject({ code: 'reserved-event-type' })
  })

  /** A body of `chunks` chunks of `size` bytes, counting how many were pulled. */
  function countedBody(size: number, chunks: number) {
    const counts = { pulled: 0, cancelled: false }
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (counts.pulled === chunks) return controller.close()
          counts.pulled++
          controller.enqueue(new Uint8Array(size).fill(0x20))
        },
        cancel() {
          counts.cancelled = true
        },
      },
      { highWaterMark: 0 },
    )
    return { body, counts }
  }

  it('refuses a Content-Length past maxBodyBytes before reading the body', async () => {
    const { body, counts } = countedBody(1024, 100)
    const request = new Request('http://app.test/hook', {
      method: 'POST',
      headers: { 'Content-Length': String(100 * 1024) },
      body,
      duplex: 'half',
    } as RequestInit)
    await expect(parseEventRequest(request, { maxBodyBytes: 4096 })).rejects.toMatchObject({
      code: 'body-too-large',
    })
    expect(counts.pulled).toBe(0)
  })

  it('stops reading a body without Content-Length as soon as it passes maxBodyBytes', async () => {
    const { body, counts } = countedBody(1024, 1000)
    const request = new Request('http://app.test/hook', {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit)
    const error = await parseEventRequest(request, { maxBodyBytes: 4096 }).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'body-too-large' })
    expect(validationErrorStatus(error as TaskwireValidationError)).toBe(413)
    // 4 chunks fit, the 5th passes the bound; Request may hold one more chunk in its queue.
    expect(counts.pulled).toBeLessThanOrEqual(6)
    await Promise.resolve()
    expect(counts.cancelled).toBe(true)
  })

  it('reads a chunked body within the bound', async () => {
    const text = JSON.stringify({ type: 'task.deleted', data: { taskId: 'é' } })
    const bytes = new TextEncoder().encode(text)
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // Splits the é between two chunks.
        const cut = bytes.indexOf(0xc3) + 1
        controller.enqueue(bytes.slice(0, cut))
        controller.enqueue(bytes.slice(cut))
        controller.close()
      },
    })
    const request = new Request('http://app.test/hook', {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit)
    expect(await parseEventRequest(request, { maxBodyBytes: bytes.byteLength })).toEqual({
      type: 'task.deleted',
      data: { taskId: 'é' },
    })
  })
})

describe('validation error answers', () => {
  it('answers 413 for a body or an event too large and 400 for every other invalid input', () => {
    const of = (code: TaskwireError['code']) => new TaskwireValidationError('x', [], { code })
    expect(validationErrorStatus(of('body-too-large'))).toBe(413)
    expect(validationErrorStatus(of('event-too-large'))).toBe(413)
    expect(validationErrorStatus(of('invalid-event'))).toBe(400)
    expect(validationErrorStatus(of('unknown-event-type'))).toBe(400)
    expect(validationErrorStatus(of('reserved-event-type'))).toBe(400)
    expect(validationErrorResponse(of('event-too-large')).status).toBe(413)
  })

  it('builds a 400 JSON response listing the issues', async () => {
    const error = failure(() => parseEvent({ type: 'task.status', data: { taskId: 't1' } }))
    const response = validationErrorResponse(error)
    expect(response.status).toBe(400)
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
    const body = await response.json()
    expect(body).toEqual(validationErrorBody(error))
    expect(body).toMatchObject({
      error: { code: 'invalid-event', issues: [{ path: 'data.status', code: 'invalid_value' }] },
    })
    expect(typeof body.error.message).toBe('string')
  })
})
