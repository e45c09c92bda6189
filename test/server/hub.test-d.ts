import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import {
  type Catalog,
  type DefaultCatalog,
  defaultCatalog,
  defineCatalog,
  type Envelope,
} from '../../src/core/index.js'
import {
  type AnyHub,
  createHub,
  type Execution,
  type Hub,
  type ParsedEvent,
  parseEvent,
  startExecution,
} from '../../src/server/index.js'

describe('hub types', () => {
  it('types publish by the default catalog', () => {
    const hub = createHub()
    expectTypeOf(hub).toEqualTypeOf<Hub<DefaultCatalog>>()
    const published = hub.publish('job', 'agent.completed', { role: 'qa', durationMs: 5, hasArtifacts: true })
    expectTypeOf(published).resolves.toEqualTypeOf<
      Envelope<
        'agent.completed',
        {
          role: string
          taskId?: string | undefined
          durationMs?: number | undefined
          hasArtifacts?: boolean | undefined
        }
      >
    >()
    // @ts-expect-error durationMs is a number
    void hub.publish('job', 'agent.completed', { role: 'qa', durationMs: '5s' })
    // @ts-expect-error role is required
    void hub.publish('job', 'agent.completed', { durationMs: 5 })
    // @ts-expect-error unknown event type
    void hub.publish('job', 'agent.exploded', {})
  })

  it('lets a custom catalog flow from createHub', () => {
    const catalog = defineCatalog({
      ...defaultCatalog.events,
      'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }),
    })
    const hub = createHub({ catalog })
    expectTypeOf(hub.catalog).toEqualTypeOf(catalog)
    void hub.publish('d', 'deploy.promoted', { env: 'prod' })
    // @ts-expect-error env is staging or prod
    void hub.publish('d', 'deploy.promoted', { env: 'dev' })
    void hub.read('d').then((result) => {
      const first = result.events[0]
      if (first?.type === 'deploy.promoted') expectTypeOf(first.data.env).toEqualTypeOf<'staging' | 'prod'>()
    })
  })

  it('types the emit of an execution and the parsed webhook event', () => {
    const hub = createHub()
    const execution = startExecution(hub, {
      run: async ({ emit }) => {
        await emit('node.started', { nodeId: 'n1' })
        // @ts-expect-error nodeId is required
        await emit('node.started', {})
      },
    })
    expectTypeOf(execution).resolves.toEqualTypeOf<Execution>()
    const event = parseEvent({})
    expectTypeOf(event).toEqualTypeOf<ParsedEvent<DefaultCatalog>>()
    if (event.type === 'task.status')
      expectTypeOf(event.data.status).toEqualTypeOf<
        'pending' | 'in_progress' | 'completed' | 'failed' | 'cancelled'
      >()
  })

  it('lets a hub of any catalog be passed as an AnyHub, with no generic', () => {
    const extended = defineCatalog({
      ...defaultCatalog.events,
      'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }),
    })
    const own = defineCatalog({ 'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }) })
    const extendedHub = createHub({ catalog: extended })
    const ownHub = createHub({ catalog: own })
    const defaultHub = createHub()
    const helper = (hub: AnyHub): Promise<void> => hub.close()
    void helper(extendedHub)
    void helper(ownHub)
    void helper(defaultHub)
    expectTypeOf(ownHub).toMatchTypeOf<AnyHub>()
    const generic = <C extends Catalog>(hub: Hub<C>): AnyHub => hub
    void generic(ownHub)
    // Through AnyHub, read gives envelopes of any type and publish is checked when it runs.
    const any: AnyHub = ownHub
    void any.read('d').then((result) => expectTypeOf(result.events).toEqualTypeOf<Envelope[]>())
    expectTypeOf(any.publish('d', 'deploy.promoted', { env: 'prod' })).resolves.toEqualTypeOf<Envelope>()
  })

  it('still keeps a hub of another catalog from passing for a default-catalog hub', () => {
    const extended = defineCatalog({
      ...defaultCatalog.events,
      'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }),
    })
    const own = defineCatalog({ 'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }) })
    // @ts-expect-error its read() returns deploy.promoted events, which Hub<DefaultCatalog> does not know
    const asDefault: Hub = createHub({ catalog: extended })
    // @ts-expect-error it refuses agent.completed, which Hub<DefaultCatalog> publishes
    const ownAsDefault: Hub = createHub({ catalog: own })
    const any: AnyHub = createHub()
    // @ts-expect-error an AnyHub is not a hub of a given catalog: its publish is untyped
    const back: Hub = any
    void [asDefault, ownAsDefault, back]
    // A Hub<C> keeps publish typed by its catalog.
    const ownHub = createHub({ catalog: own })
    // @ts-expect-error env is staging or prod
    void ownHub.publish('d', 'deploy.promoted', { env: 'dev' })
  })
})
