import { EventSource as EventSourcePackage } from 'eventsource'
import { describe, expectTypeOf, it } from 'vitest'
import { WebSocket as WsWebSocket } from 'ws'
import { z } from 'zod'
import {
  type ConnectionStatus,
  connect,
  createRunStore,
  type EventSourceConstructor,
  fetchTransport,
  type Resync,
  type RunStore,
  type StreamHandle,
  type StreamSnapshot,
  type WebSocketConstructor,
} from '../../src/client/index.js'
import {
  type DefaultCatalog,
  defaultCatalog,
  defineCatalog,
  type EventOf,
  type RunState,
} from '../../src/core/index.js'

const EVENTS_URL = 'https://example.com/events'

describe('connect() types', () => {
  it('types handlers by the default catalog', () => {
    const stream = connect(EVENTS_URL)
    expectTypeOf(stream).toEqualTypeOf<StreamHandle<DefaultCatalog>>()
    stream.on('agent.completed', (event) => {
      expectTypeOf(event.data.durationMs).toEqualTypeOf<number | undefined>()
      expectTypeOf(event.type).toEqualTypeOf<'agent.completed'>()
    })
    stream.on('*', (event) => {
      expectTypeOf(event).toEqualTypeOf<EventOf<DefaultCatalog>>()
      if (event.type === 'node.failed') expectTypeOf(event.data.error.message).toBeString()
    })
    // @ts-expect-error: not an event type of the catalog
    stream.on('agent.finished', () => {})
  })

  it('types handlers by a catalog passed in the options, with no generic written', () => {
    const catalog = defineCatalog({
      ...defaultCatalog.events,
      'deploy.promoted': z.object({ env: z.enum(['staging', 'prod']) }),
    })
    const stream = connect(EVENTS_URL, { catalog })
    stream.on('deploy.promoted', (event) => {
      expectTypeOf(event.data.env).toEqualTypeOf<'staging' | 'prod'>()
    })
  })

  it('exposes the store interface, and the run state through createRunStore', () => {
    const stream = connect(EVENTS_URL)
    expectTypeOf(stream.getSnapshot()).toEqualTypeOf<StreamSnapshot>()
    expectTypeOf(stream.getServerSnapshot()).toEqualTypeOf<StreamSnapshot>()
    expectTypeOf(stream.getSnapshot().resync).toEqualTypeOf<Resync | null>()
    expectTypeOf(stream.subscribe).toEqualTypeOf<(listener: () => void) => () => void>()
    expectTypeOf(stream.status).toEqualTypeOf<ConnectionStatus>()
    expectTypeOf<ConnectionStatus>().toEqualTypeOf<
      'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'
    >()
    // @ts-expect-error: the handle no longer folds the run state
    stream.state
    const store = createRunStore(stream)
    expectTypeOf(store).toEqualTypeOf<RunStore>()
    expectTypeOf(store.getState()).toEqualTypeOf<RunState>()
  })

  it('takes transports as values, not names', () => {
    connect(EVENTS_URL, { transport: fetchTransport })
    // @ts-expect-error: a transport name is not a transport
    connect(EVENTS_URL, { transport: 'fetch' })
  })

  it('accepts the eventsource package, ws and the DOM constructors', () => {
    expectTypeOf(EventSourcePackage).toExtend<EventSourceConstructor>()
    expectTypeOf(globalThis.EventSource).toExtend<EventSourceConstructor>()
    expectTypeOf(WsWebSocket).toExtend<WebSocketConstructor>()
    expectTypeOf(globalThis.WebSocket).toExtend<WebSocketConstructor>()
  })

  it('iterates typed events', async () => {
    for await (const event of connect(EVENTS_URL)) {
      expectTypeOf(event).toEqualTypeOf<EventOf<DefaultCatalog>>()
    }
  })
})
