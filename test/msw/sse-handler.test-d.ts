import type { RequestHandler } from 'msw'
import { setupServer } from 'msw/node'
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { type DefaultCatalog, defineCatalog, type EventOf } from '../../src/core/index.js'
import {
  bufferingProxy,
  replayFrom,
  type SseHandler,
  type StreamConnection,
  type StreamController,
  slowDrip,
  sseHandler,
  tokenExpiry,
} from '../../src/msw/index.js'

const deploys = defineCatalog(
  { 'deploy.step': z.object({ step: z.string() }), 'deploy.finished': z.object({ ok: z.boolean() }) },
  { terminal: ['deploy.finished'] },
)
type Deploys = typeof deploys

describe('sseHandler types', () => {
  it('types send() by the default catalog and makes an msw handler', () => {
    const handler = sseHandler('GET', '/events', async (info, stream) => {
      expectTypeOf(stream).toEqualTypeOf<StreamController<DefaultCatalog>>()
      expectTypeOf(info.lastEventId).toEqualTypeOf<string | null>()
      expectTypeOf(info.attempt).toEqualTypeOf<number>()
      await stream.send('task.progress', { taskId: 't1', percent: 40 })
      // @ts-expect-error: percent is a number
      await stream.send('task.progress', { taskId: 't1', percent: '40' })
      // @ts-expect-error: taskId is required
      await stream.send('task.created', {})
      // @ts-expect-error: not an event type of the catalog
      await stream.send('deploy.step', { step: 'x' })
      await stream.raw('data: {broken\n\n')
      await stream.respond(503, { headers: { 'retry-after': '2' } })
    })
    expectTypeOf(handler).toEqualTypeOf<SseHandler<DefaultCatalog>>()
    expectTypeOf(handler).toExtend<RequestHandler>()
    expectTypeOf(handler.connections).toEqualTypeOf<readonly StreamConnection<DefaultCatalog>[]>()
    expectTypeOf(handler.lastEventIds()).toEqualTypeOf<(string | null)[]>()
    setupServer(handler)
  })

  it('types send() by the catalog of sseHandler.for(catalog) or of the catalog option', () => {
    const deploy = sseHandler.for(deploys)
    const bound = deploy('POST', '/deploys', async (_info, stream) => {
      await stream.send('deploy.step', { step: 'build' })
      // @ts-expect-error: not an event type of this catalog
      await stream.send('task.progress', { taskId: 't1' })
      // @ts-expect-error: ok is a boolean
      await stream.send('deploy.finished', { ok: 'yes' })
    })
    expectTypeOf(bound).toEqualTypeOf<SseHandler<Deploys>>()
    expectTypeOf(bound.connections[0]?.events[0]).toEqualTypeOf<EventOf<Deploys> | undefined>()

    const optioned = sseHandler(
      'POST',
      '/deploys',
      async (_info, stream) => {
        await stream.send('deploy.finished', { ok: true })
        // @ts-expect-error: not an event type of this catalog
        await stream.send('run.completed', {})
      },
      { catalog: deploys },
    )
    expectTypeOf(optioned).toEqualTypeOf<SseHandler<Deploys>>()
  })

  it('types the events of presets by the catalog they serve', () => {
    sseHandler('GET', '/events', replayFrom([{ type: 'task.created', data: { taskId: 't1' } }]))
    // @ts-expect-error: taskId is required
    sseHandler('GET', '/events', replayFrom([{ type: 'task.created', data: {} }]))
    const deploy = sseHandler.for(deploys)
    deploy('GET', '/deploys', tokenExpiry([{ type: 'deploy.finished', data: { ok: true } }]))
    // @ts-expect-error: not an event type of this catalog
    deploy('GET', '/deploys', replayFrom([{ type: 'run.completed', data: {} }]))
    deploy(
      'GET',
      '/deploys',
      slowDrip(
        bufferingProxy(async (_info, stream) => {
          await stream.send('deploy.step', { step: 'x' })
        }),
      ),
    )
  })
})
