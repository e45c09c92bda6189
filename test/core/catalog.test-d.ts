import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import {
  type DecodedEvent,
  decodeEvent,
  defaultCatalog,
  defineCatalog,
  type Envelope,
  type EventHandlers,
  type EventInput,
  type EventOf,
  type EventType,
} from '../../src/core/index.js'

type Default = typeof defaultCatalog

describe('types flow from a catalog value', () => {
  it('types agent.completed durationMs as an optional number', () => {
    expectTypeOf<EventOf<Default, 'agent.completed'>['data']['durationMs']>().toEqualTypeOf<
      number | undefined
    >()
    expectTypeOf<EventOf<Default, 'agent.completed'>['data']['role']>().toEqualTypeOf<string>()
    expectTypeOf<EventOf<Default, 'agent.completed'>['type']>().toEqualTypeOf<'agent.completed'>()
  })

  it('narrows the event union by its type', () => {
    const handle = (event: EventOf<Default>): void => {
      if (event.type === 'task.status') {
        expectTypeOf(event.data.status).toEqualTypeOf<
          'pending' | 'in_progress' | 'completed' | 'failed' | 'cancelled'
        >()
        // @ts-expect-error task.status has no durationMs
        event.data.durationMs
      } else if (event.type === 'node.failed') {
        expectTypeOf(event.data.error.message).toEqualTypeOf<string>()
        expectTypeOf(event.data.message).toEqualTypeOf<string | undefined>()
      }
      switch (event.type) {
        case 'run.started':
          expectTypeOf(event.data.executionId).toEqualTypeOf<string | number | undefined>()
          break
        case 'stream.snapshot':
          expectTypeOf(event.data.state.lastEventId).toEqualTypeOf<string | null>()
          break
      }
    }
    expectTypeOf(handle).parameter(0).toHaveProperty('stream').toEqualTypeOf<string>()
  })

  it('lists the catalog types as a union of literals', () => {
    expectTypeOf<'task.created'>().toExtend<EventType<Default>>()
    expectTypeOf<'deploy.promoted'>().not.toExtend<EventType<Default>>()
  })

  it('flows a type added with defineCatalog into EventOf', () => {
    const catalog = defineCatalog({
      ...defaultCatalog.events,
      'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }),
    })
    type Catalog = typeof catalog
    expectTypeOf<EventOf<Catalog, 'deploy.promoted'>['data']>().toEqualTypeOf<{ env: 'staging' | 'prod' }>()
    expectTypeOf<EventOf<Catalog, 'agent.completed'>['data']['durationMs']>().toEqualTypeOf<
      number | undefined
    >()
    const event = {} as EventOf<Catalog>
    if (event.type === 'deploy.promoted') {
      expectTypeOf(event.data.env).toEqualTypeOf<'staging' | 'prod'>()
      // @ts-expect-error deploy.promoted has no taskId
      event.data.taskId
    }
  })

  it('makes a wrong field or a wrong value a type error', () => {
    const ok: EventInput<Default, 'agent.completed'> = { role: 'qa', durationMs: 5 }
    expectTypeOf(ok).toExtend<{ role: string }>()
    // @ts-expect-error executionTime is card 3's name; taskwire calls it durationMs
    const wrongField: EventInput<Default, 'agent.completed'> = { role: 'qa', executionTime: 5 }
    // @ts-expect-error durationMs is a number
    const wrongValue: EventInput<Default, 'agent.completed'> = { role: 'qa', durationMs: '5' }
    // @ts-expect-error role is required
    const missing: EventInput<Default, 'agent.completed'> = { durationMs: 5 }
    // @ts-expect-error not a type of the default catalog
    const unknownType: EventOf<Default, 'deploy.promoted'> = {} as never
    void [wrongField, wrongValue, missing, unknownType]
  })

  it('types handler maps by event type', () => {
    const handlers: EventHandlers<Default> = {
      'agent.completed': (event) =>
        expectTypeOf(event.data.hasArtifacts).toEqualTypeOf<boolean | undefined>(),
    }
    // @ts-expect-error the handler of task.deleted gets a task.deleted event, which has no role
    const wrong: EventHandlers<Default> = { 'task.deleted': (event) => event.data.role }
    void [handlers, wrong]
  })

  it('types decodeEvent by the unknown-type policy', () => {
    const strict = decodeEvent({ data: '' }, defaultCatalog)
    if (strict.ok) expectTypeOf(strict.value).toEqualTypeOf<EventOf<Default>>()
    const loose = decodeEvent({ data: '' }, defaultCatalog, { unknown: 'passthrough' })
    if (loose.ok) expectTypeOf(loose.value).toEqualTypeOf<DecodedEvent<Default, 'passthrough'>>()
    expectTypeOf<DecodedEvent<Default, 'passthrough'>>().toEqualTypeOf<
      EventOf<Default> | Envelope<string, unknown>
    >()
  })
})
