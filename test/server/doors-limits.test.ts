import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import type { AccessPolicy } from '../../src/server/access.js'
import { createHub } from '../../src/server/hub.js'
import type { HubOptions } from '../../src/server/hub-options.js'
import { type ServeResult, serveNode } from '../../src/server/serve-node.js'
import type { Hub } from '../../src/server/types.js'
import { bodyText, httpGet, type RawResponse, startServer, type TestServer } from '../helpers/http-server.js'

let server: TestServer | undefined
let hub: Hub | undefined
afterEach(async () => {
  await server?.close()
  await hub?.close()
  server = undefined
  hub = undefined
})

/** Admits `Bearer t-<user>` while the token is in `tokens`, naming the caller by its user. */
function tokenPolicy(tokens: Map<string, string>): AccessPolicy {
  return ({ headers }) => {
    const user = tokens.get((headers.get('authorization') ?? '').replace(/^Bearer /, ''))
    return user === undefined ? { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } : { key: user }
  }
}

/** serveNode on `/<stream>`, recording how each response ended. */
async function start(options: HubOptions): Promise<{ url: string; results: Promise<ServeResult>[] }> {
  const created = createHub({ heartbeatMs: false, onError: () => {}, ...options })
  hub = created
  const results: Promise<ServeResult>[] = []
  server = await startServer((req, res) => {
    results.push(serveNode(created, req, res, { stream: (req.url ?? '').slice(1), onError: () => {} }))
  })
  return { url: server.url, results }
}

/** Opens an SSE response and waits for its first bytes (`retry:`), so it holds its slot. */
async function open(url: string, token: string): Promise<RawResponse> {
  const response = await httpGet(url, { authorization: `Bearer ${token}` })
  expect(response.status).toBe(200)
  response.message.setEncoding('utf8')
  await once(response.message, 'data')
  return response
}

/** Resolves once the client sees its response end, cleanly or cut. */
function endOf(message: IncomingMessage): Promise<void> {
  // A cut response errors with `aborted` before it closes; the close is what the client sees.
  message.on('error', () => {})
  return new Promise((resolve) => {
    if (message.closed) resolve()
    else message.once('close', () => resolve())
  })
}

describe('limits per caller key', () => {
  it('keeps one key to maxConnectionsPerKey over serveNode with a 503 and Retry-After, while other keys get in', async () => {
    const tokens = new Map([
      ['t-ann', 'ann'],
      ['t-bob', 'bob'],
    ])
    const { url } = await start({
      authorize: tokenPolicy(tokens),
      maxConnectionsPerKey: 2,
      retryAfterMs: 1500,
    })
    const first = await open(`${url}/job-1`, 't-ann')
    await open(`${url}/job-2`, 't-ann')
    const third = await httpGet(`${url}/job-3`, { authorization: 'Bearer t-ann' })
    expect(third.status).toBe(503)
    expect(third.headers['retry-after']).toBe('2')
    expect(JSON.parse(await bodyText(third.message))).toMatchObject({
      error: { code: 'connection-limit', retryAfterMs: 1500 },
    })
    await open(`${url}/job-1`, 't-bob')
    expect(hub?.stats().connections).toBe(3)

    first.message.destroy()
    await server?.whenClosed((seen) => seen.url === '/job-1' && seen.headers.authorization === 'Bearer t-ann')
    await open(`${url}/job-3`, 't-ann')
  })

  it('ends every open response of a revoked caller with hub.disconnect, and its reconnect meets authorize again', async () => {
    const tokens = new Map([
      ['t-ann', 'ann'],
      ['t-bob', 'bob'],
    ])
    const { url, results } = await start({ authorize: tokenPolicy(tokens) })
    const ann1 = await open(`${url}/job-1`, 't-ann')
    const ann2 = await open(`${url}/job-2`, 't-ann')
    const bob = await open(`${url}/job-1`, 't-bob')

    tokens.delete('t-ann')
    expect(hub?.disconnect({ key: 'ann' })).toBe(2)
    await Promise.all([endOf(ann1.message), endOf(ann2.message)])
    expect(await results[0]).toEqual({ status: 200, reason: 'revoked' })
    expect(await results[1]).toEqual({ status: 200, reason: 'revoked' })
    expect(hub?.stats().connections).toBe(1)

    // Bob's stream goes on.
    await hub?.publish('job-1', 'task.created', { taskId: 'after-revoke' })
    let text = ''
    while (!text.includes('after-revoke')) text += (await once(bob.message, 'data'))[0] as string

    // Ann's client reconnects with the same token, as EventSource would: now refused.
    const again = await httpGet(`${url}/job-1`, { authorization: 'Bearer t-ann', 'last-event-id': '' })
    expect(again.status).toBe(401)
    expect(again.headers['www-authenticate']).toBe('Bearer')
    expect(JSON.parse(await bodyText(again.message)).error.code).toBe('unauthorized')
    bob.message.destroy()
  })
})
