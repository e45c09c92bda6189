import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHub } from '../../src/server/hub.js'
import type { Hub } from '../../src/server/types.js'
import { FRAMEWORK_NAMES, type FrameworkName, startFramework } from '../helpers/framework-servers.js'
import type { TestServer } from '../helpers/http-server.js'
import { E2E_HUB_OPTIONS, resumeScenario } from '../helpers/resume-scenario.js'
import { eventSourcePackageClient, READY_STATE, type SseClient } from '../helpers/sse-clients.js'

let hub: Hub
const servers = new Map<FrameworkName, TestServer>()
const clients: SseClient[] = []

beforeAll(async () => {
  hub = createHub(E2E_HUB_OPTIONS)
  for (const name of FRAMEWORK_NAMES) servers.set(name, await startFramework(name, hub))
})

afterAll(async () => {
  for (const client of clients) await client.close()
  for (const server of servers.values()) await server.close()
  await hub.close()
})

function client(): SseClient {
  const created = eventSourcePackageClient()
  clients.push(created)
  return created
}

describe.each(FRAMEWORK_NAMES)('the eventsource package reading a hub served by %s', (name) => {
  it('resumes exactly after Last-Event-ID when the server drops the socket, and stops for good on 204', async () => {
    const server = servers.get(name)
    if (!server) throw new Error(`${name} not started`)
    await resumeScenario(hub, server, client(), `es-${name.replace(':', '-')}`)
    expect(hub.stats().connections).toBe(0)
  })

  it('receives data-only frames through onmessage', async () => {
    const server = servers.get(name)
    if (!server) throw new Error(`${name} not started`)
    const stream = `es-data-only-${name.replace(':', '-')}`
    const published = await hub.publish(stream, 'task.created', { taskId: 't1', title: 'Write the docs' })
    const reader = client()
    await reader.open(`${server.url}/data-only/${stream}`)
    const [message] = await reader.inbox
      .waitFor((items) => items.some((item) => item.kind === 'event'), 'a data-only message')
      .then((items) => items.filter((item) => item.kind === 'event'))
    expect(message).toEqual({
      kind: 'event',
      type: 'message',
      id: published.id,
      data: JSON.stringify(published),
    })
    expect(await reader.readyState()).toBe(READY_STATE.OPEN)
    await reader.close()
  })
})
