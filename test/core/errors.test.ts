import { readFileSync } from 'node:fs'
import { runInNewContext } from 'node:vm'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import {
  isTaskwireError,
  TaskwireError,
  TaskwireHttpError,
  TaskwireValidationError,
} from '../../src/core/index.js'

type ErrorsModule = typeof import('../../src/core/errors.js')

/**
 * Loads a second, independent copy of src/core/errors.ts inside a fresh `node:vm` realm, as
 * a second bundle, an iframe or a worker would hold: its classes and its `Error` are not ours.
 */
function loadErrorsInAnotherRealm(): ErrorsModule {
  const source = readFileSync(new URL('../../src/core/errors.ts', import.meta.url), 'utf8')
  const { outputText: code } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  })
  const module = { exports: {} as Record<string, unknown> }
  runInNewContext(code, { module, exports: module.exports })
  return module.exports as unknown as ErrorsModule
}

describe('TaskwireError', () => {
  it('carries a stable code, a name, a message and an optional cause', () => {
    const cause = new Error('socket hang up')
    const error = new TaskwireError('network', 'The connection dropped; the client will reconnect.', {
      cause,
    })
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('TaskwireError')
    expect(error.code).toBe('network')
    expect(error.message).toBe('The connection dropped; the client will reconnect.')
    expect(error.cause).toBe(cause)
    expect('cause' in new TaskwireError('timeout', 'x')).toBe(false)
  })

  it('keeps a cause that is itself undefined when one was passed explicitly', () => {
    expect('cause' in new TaskwireError('aborted', 'x', { cause: undefined })).toBe(true)
  })
})

describe('TaskwireHttpError', () => {
  it('carries the status and Retry-After in milliseconds, with code http-status by default', () => {
    const error = new TaskwireHttpError(503, 'Too many connections; retry later.', { retryAfterMs: 5000 })
    expect(error).toBeInstanceOf(TaskwireError)
    expect(error.name).toBe('TaskwireHttpError')
    expect(error.code).toBe('http-status')
    expect(error.status).toBe(503)
    expect(error.retryAfterMs).toBe(5000)
    expect(isTaskwireError(error)).toBe(true)
  })

  it('takes a more precise code such as unauthorized', () => {
    const error = new TaskwireHttpError(401, 'Sign in again.', { code: 'unauthorized' })
    expect(error.code).toBe('unauthorized')
    expect(error.retryAfterMs).toBeUndefined()
  })
})

describe('TaskwireValidationError', () => {
  it('lists each invalid field and defaults to code invalid-event', () => {
    const issues = [{ path: 'data.taskId', message: 'Required', code: 'invalid_type' }]
    const error = new TaskwireValidationError('Invalid task.status event', issues)
    expect(error).toBeInstanceOf(TaskwireError)
    expect(error.name).toBe('TaskwireValidationError')
    expect(error.code).toBe('invalid-event')
    expect(error.issues).toEqual(issues)
    expect(new TaskwireValidationError('x', [], { code: 'invalid-frame' }).code).toBe('invalid-frame')
  })
})

describe('isTaskwireError', () => {
  it('recognises errors of this copy and rejects look-alikes', () => {
    expect(isTaskwireError(new TaskwireError('broker', 'x'))).toBe(true)
    for (const value of [
      new Error('x'),
      Object.assign(new Error('x'), { code: 'invalid-event', name: 'TaskwireError' }),
      { code: 'invalid-event' },
      null,
      undefined,
      'TaskwireError',
      42,
    ]) {
      expect(isTaskwireError(value)).toBe(false)
    }
  })

  it('recognises errors created by another copy of taskwire in another realm', () => {
    const other = loadErrorsInAnotherRealm()
    const foreign = new other.TaskwireHttpError(403, 'Forbidden', { code: 'forbidden' })
    // The realm really is another one: instanceof fails both for our class and for Error.
    expect(foreign instanceof TaskwireError).toBe(false)
    expect(foreign instanceof Error).toBe(false)
    expect(isTaskwireError(foreign)).toBe(true)
    expect(foreign.code).toBe('forbidden')
    expect(foreign.status).toBe(403)
    // And the other copy recognises ours.
    expect(other.isTaskwireError(new TaskwireError('timeout', 'x'))).toBe(true)
    expect(other.isTaskwireError(new Error('x'))).toBe(false)
  })

  it('relies on the registered Symbol.for("taskwire.error") brand, which every copy shares', () => {
    const branded = Object.defineProperty(new Error('from a bundle'), Symbol.for('taskwire.error'), {
      value: true,
    })
    expect(isTaskwireError(branded)).toBe(true)
    const wrongBrand = Object.defineProperty(new Error('x'), Symbol('taskwire.error'), { value: true })
    expect(isTaskwireError(wrongBrand)).toBe(false)
  })

  it('holds the brand as a non-enumerable, read-only own property, so spreading an error drops it', () => {
    const error = new TaskwireError('invalid-event', 'x')
    const brand = Object.getOwnPropertyDescriptor(error, Symbol.for('taskwire.error'))
    expect(brand).toMatchObject({ value: true, enumerable: false, writable: false })
    expect(isTaskwireError({ ...error })).toBe(false)
  })
})
