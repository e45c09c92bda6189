import { describe, expect, it } from 'vitest'
import { defineCatalog, TaskwireValidationError } from '../../src/core/index.js'
import {
  parseEvent,
  parseEventRequest,
  validationErrorBody,
  validationErrorResponse,
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
    const event = parseEvent({ type: 'build.finished', data: { ok: true } }, catalog)
    expect(event.data.ok).toBe(true)
    expect(failure(() => parseEvent({ type: 'task.created', data: { taskId: 't' } }, catalog)).code).toBe(
      'unknown-event-type',
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
})

describe('validation error answers', () => {
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
