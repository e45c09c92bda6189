import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { type DefaultCatalog, defaultCatalog, defineCatalog, type Envelope } from '../../src/core/index.js'
import {
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
    expectTypeOf(execution).toEqualTypeOf<Execution>()
    const event = parseEvent({})
    expectTypeOf(event).toEqualTypeOf<ParsedEvent<DefaultCatalog>>()
    if (event.type === 'task.status')
      expectTypeOf(event.data.status).toEqualTypeOf<
        'pending' | 'in_progress' | 'completed' | 'failed' | 'cancelled'
      >()
  })
})
