import { expect } from 'vitest'
import type { Envelope } from '../../src/core/index.js'
import type { HubOptions } from '../../src/server/hub-options.js'
import type { Hub } from '../../src/server/types.js'
import type { TestServer } from './http-server.js'
import { READY_STATE, receivedIds, type SseClient } from './sse-clients.js'

/** The reconnection delay the e2e hubs send as `retry:`, short so reconnects are quick. */
export const E2E_RETRY_MS = 100

/** Hub options the e2e suites share: fast reconnects and heartbeats, small limits. */
export const E2E_HUB_OPTIONS: HubOptions = {
  retryMs: E2E_RETRY_MS,
  heartbeatMs: 250,
  maxPerStream: 2,
  retryAfterMs: 1500,
  highWaterMarkBytes: 256 * 1024,
}

/**
 * Proves a client resumes exactly after its last id and stops on 204:
 * 1. three events are published, the client connects and receives them (no cursor sent);
 * 2. the server destroys the connection's socket and publishes two more while the client
 *    is away; the client reconnects with `Last-Event-ID` equal to the third id and gets
 *    exactly the two it missed;
 * 3. the terminal event ends the stream; the client reconnects once with the last id, gets
 *    204 and stops: its readyState is CLOSED and no further request reaches the server.
 *
 * @param hub - the hub behind `server`
 * @param server - the server under test
 * @param client - the client under test
 * @param stream - a stream name unique to this run
 */
export async function resumeScenario(
  hub: Hub,
  server: TestServer,
  client: SseClient,
  stream: string,
): Promise<void> {
  const path = `/events/${stream}`
  const isStream = (request: { url: string }): boolean => request.url === path
  const published: Envelope[] = []
  published.push(await hub.publish(stream, 'run.started', {}))
  published.push(await hub.publish(stream, 'task.created', { taskId: 't1' }))
  published.push(await hub.publish(stream, 'task.created', { taskId: 't2' }))

  const first = server.nextRequest(isStream)
  await client.open(`${server.url}${path}`)
  expect((await first).headers['last-event-id']).toBeUndefined()
  await client.inbox.waitFor((items) => countEvents(items) >= 3, `${client.name}: the first three events`)

  const second = server.nextRequest(isStream)
  expect(server.dropConnections(isStream)).toBe(1)
  published.push(await hub.publish(stream, 'task.status', { taskId: 't1', status: 'completed' }))
  published.push(await hub.publish(stream, 'task.status', { taskId: 't2', status: 'completed' }))
  expect((await second).headers['last-event-id']).toBe(published[2]?.id)
  await client.inbox.waitFor((items) => countEvents(items) >= 5, `${client.name}: the two missed events`)

  const third = server.nextRequest(isStream)
  published.push(await hub.publish(stream, 'run.completed', {}))
  await client.inbox.waitFor((items) => countEvents(items) >= 6, `${client.name}: the terminal event`)
  const last = await third
  expect(last.headers['last-event-id']).toBe(published[5]?.id)
  await client.inbox.waitFor(
    (items) =>
      items.some((item, i) => item.kind === 'error' && item.readyState === READY_STATE.CLOSED && i > 0),
    `${client.name}: CLOSED after 204`,
  )
  expect(last.res.statusCode).toBe(204)
  expect(await client.readyState()).toBe(READY_STATE.CLOSED)

  expect(receivedIds(client.inbox)).toEqual(published.map((event) => [event.id, event.type]))
  for (const item of client.inbox.items) {
    if (item.kind === 'event')
      expect(JSON.parse(item.data)).toMatchObject({ id: item.id, type: item.type, stream })
  }

  // Proving that nothing happens needs a window of time: five reconnection delays, in which
  // a client that had not stopped would have reconnected several times.
  const requestsBefore = server.requests.filter(isStream).length
  await new Promise((resolve) => setTimeout(resolve, 5 * E2E_RETRY_MS))
  expect(server.requests.filter(isStream).length).toBe(requestsBefore)
  expect(requestsBefore).toBe(3)
}

function countEvents(items: readonly { kind: string }[]): number {
  return items.filter((item) => item.kind === 'event').length
}
