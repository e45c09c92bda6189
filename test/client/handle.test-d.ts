import { describe, expectTypeOf, it } from 'vitest'
import * as z from 'zod'
import { connect } from '../../src/client/connect.js'
import { createRunStore } from '../../src/client/run-store.js'
import type { StreamHandle, StreamHandleBase } from '../../src/client/stream-handle.js'
import { defineCatalog, type RunState } from '../../src/core/index.js'

const catalog = defineCatalog({ 'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }) })

/** A helper that takes any handle, whatever its catalog, without a type parameter. */
const statusOf = (handle: StreamHandleBase): string => handle.status

describe('handles of any catalog', () => {
  it('are accepted by helpers that take StreamHandleBase, and by createRunStore', () => {
    const custom = connect<typeof catalog>('https://example.com/events')
    const plain = connect('https://example.com/events')
    expectTypeOf(statusOf(custom)).toEqualTypeOf<string>()
    expectTypeOf(statusOf(plain)).toEqualTypeOf<string>()
    expectTypeOf(createRunStore(custom).getState()).toEqualTypeOf<RunState>()
    expectTypeOf(custom).toMatchTypeOf<StreamHandleBase>()
  })

  it('keep their typed handlers', () => {
    const custom = connect<typeof catalog>('https://example.com/events')
    custom.on('deploy.promoted', (event) => {
      expectTypeOf(event.data.env).toEqualTypeOf<'staging' | 'prod'>()
    })
    // @ts-expect-error not an event of this catalog
    custom.on('task.created', () => {})
    expectTypeOf(custom).toMatchTypeOf<StreamHandle<typeof catalog>>()
  })
})
