import { once } from 'node:events'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { serveNode } from '../../src/server/serve-node.js'
import { serveWeb } from '../../src/server/serve-web.js'
import type { Hub } from '../../src/server/types.js'
import { type FakeHub, fakeHub } from '../helpers/fake-hub.js'
import { startServer, type TestServer } from '../helpers/http-server.js'
import { webToNode } from '../helpers/web-bridge.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** A hub whose stream has ended: every request is answered 204 once the cursor is read. */
function endedHub(): FakeHub {
  const hub = fakeHub()
  hub.answer = async () => null
  return hub
}

const adapters = {
  serveNode: (hub: FakeHub) =>
    startServer((req, res) => {
      void serveNode(hub as unknown as Hub, req, res, { stream: 'job-1' })
    }),
  serveWeb: (hub: FakeHub) =>
    startServer(webToNode((request) => serveWeb(hub as unknown as Hub, request, { stream: 'job-1' }))),
}

/**
 * Sends a GET over a raw socket with a `Last-Event-ID` header made of exactly `id` bytes, as
 * a browser's EventSource (UTF-8) or a fetch client (one latin-1 char per byte) puts them.
 *
 * @returns the status line of the answer
 */
async function getWithCursorBytes(url: string, id: Buffer): Promise<string> {
  const { port } = new URL(url)
  const socket = connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  socket.write(
    Buffer.concat([
      Buffer.from('GET /events/job-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: ', 'latin1'),
      id,
      Buffer.from('\r\nConnection: close\r\n\r\n', 'latin1'),
    ]),
  )
  const chunks: Buffer[] = []
  for await (const chunk of socket) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('latin1').split('\r\n')[0] ?? ''
}

describe.each(Object.entries(adapters))('%s reads Last-Event-ID as UTF-8 bytes', (_name, start) => {
  it('gives the hub the exact id whose UTF-8 bytes the header carried', async () => {
    const hub = endedHub()
    server = await start(hub)
    const status = await getWithCursorBytes(server.url, Buffer.from('é…-7', 'utf8'))
    expect(status).toBe('HTTP/1.1 204 No Content')
    expect(hub.calls.map((call) => call.options?.lastEventId)).toEqual(['é…-7'])
  })

  it('passes an ASCII id through unchanged', async () => {
    const hub = endedHub()
    server = await start(hub)
    await getWithCursorBytes(server.url, Buffer.from('1700000000000-3', 'latin1'))
    expect(hub.calls.map((call) => call.options?.lastEventId)).toEqual(['1700000000000-3'])
  })

  it('keeps a header that is not valid UTF-8 as the latin-1 text it arrived as', async () => {
    const hub = endedHub()
    server = await start(hub)
    // E9 alone: a client that sent latin-1 "é" itself.
    await getWithCursorBytes(server.url, Buffer.from([0x61, 0xe9, 0x62]))
    expect(hub.calls.map((call) => call.options?.lastEventId)).toEqual(['aéb'])
  })
})
