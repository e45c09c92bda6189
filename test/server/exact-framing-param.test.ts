import { afterEach, describe, expect, it } from 'vitest'
import type { Framing } from '../../src/core/index.js'
import { FRAMING_PARAM } from '../../src/server/index.js'
import { serveNode } from '../../src/server/serve-node.js'
import { serveWeb } from '../../src/server/serve-web.js'
import type { Hub } from '../../src/server/types.js'
import { bodyText, httpGet, startServer, type TestServer } from '../helpers/http-server.js'
import { webToNode } from '../helpers/web-bridge.js'
import { hubsClosedAfterEach } from './hub-fixtures.js'

const newHub = hubsClosedAfterEach()
let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const adapters = {
  serveNode: (hub: Hub, framing: Framing | undefined) =>
    startServer((req, res) => {
      void serveNode(hub, req, res, { stream: 'run-1', framing })
    }),
  serveWeb: (hub: Hub, framing: Framing | undefined) =>
    startServer(webToNode((request) => serveWeb(hub, request, { stream: 'run-1', framing }))),
}

/** A hub whose stream `run-1` holds a started and a completed run, so a GET reads to its end. */
async function endedRun(): Promise<Hub> {
  const hub = newHub()
  await hub.publish('run-1', 'run.started', {})
  await hub.publish('run-1', 'run.completed', {})
  return hub
}

/** The lines of a stream body that name an event. */
const eventLines = (body: string): string[] => body.split('\n').filter((line) => line.startsWith('event:'))

describe.each(Object.entries(adapters))('%s honours the framing query parameter', (_name, start) => {
  it('writes frames without an event: line for ?framing=data-only', async () => {
    server = await start(await endedRun(), undefined)
    const response = await httpGet(`${server.url}/events/run-1?${FRAMING_PARAM}=data-only`)
    expect(response.status).toBe(200)
    const body = await bodyText(response.message)
    expect(body).toContain('"type":"run.completed"')
    expect(body.split('\n').filter((line) => line.startsWith('data:'))).toHaveLength(2)
    expect(eventLines(body)).toEqual([])
  })

  it('writes named frames for ?framing=named and without the parameter', async () => {
    server = await start(await endedRun(), undefined)
    for (const query of [`?${FRAMING_PARAM}=named`, '', `?${FRAMING_PARAM}=`]) {
      const body = await bodyText((await httpGet(`${server.url}/events/run-1${query}`)).message)
      expect(eventLines(body)).toEqual(['event: run.started', 'event: run.completed'])
    }
  })

  it('keeps the adapter framing option over the query parameter', async () => {
    server = await start(await endedRun(), 'named')
    const body = await bodyText((await httpGet(`${server.url}/events/run-1?framing=data-only`)).message)
    expect(eventLines(body)).toEqual(['event: run.started', 'event: run.completed'])
  })

  it('answers 400 with the JSON error body for any other framing value, before subscribing', async () => {
    const hub = await endedRun()
    server = await start(hub, undefined)
    const response = await httpGet(`${server.url}/events/run-1?framing=Data-Only`)
    expect(response.status).toBe(400)
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    const message =
      "The framing query parameter must be 'named' or 'data-only'; leave it out for the server's default."
    expect(JSON.parse(await bodyText(response.message))).toEqual({
      error: {
        code: 'invalid-option',
        message,
        issues: [{ path: 'framing', message, code: 'invalid_value' }],
      },
    })
    expect(hub.stats().connections).toBe(0)
  })
})
