import { afterEach, describe, expect, it, vi } from 'vitest'
import { formatEvent, isTaskwireError, TaskwireValidationError } from '../../src/core/index.js'
import { type SseHandler, type StreamInfo, sseHandler } from '../../src/msw/index.js'
import { createHub } from '../../src/server/hub.js'
import { serveWeb } from '../../src/server/serve-web.js'
import { frameCount, mswServer, ORIGIN, readText } from './support.js'

const server = mswServer()
const STREAM_URL = `${ORIGIN}/api/jobs/job-7/events`

/** Adds a handler to the server for this test. */
function use<H extends SseHandler>(handler: H): H {
  server.use(handler)
  return handler
}

afterEach(() => {
  vi.useRealTimers()
})

describe('sseHandler', () => {
  it('frames events byte for byte as the hub does, named or data-only as the request asks', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-03-04T05:06:07.089Z'))
    const hub = createHub({ retryMs: false, heartbeatMs: false })
    await hub.publish('job-7', 'run.started', {})
    await hub.publish('job-7', 'task.progress', { taskId: 't1', percent: 50, note: 'héllo 🚀\nline two' })
    const hubText = await readText(
      await serveWeb(hub, new Request('http://hub.test/events'), { stream: 'job-7' }),
      (text) => frameCount(text) >= 2,
    )
    await hub.close()
    const epoch = /^id: (\d+)-1$/m.exec(hubText)?.[1]
    expect(epoch).toBeDefined()

    use(
      sseHandler(
        'GET',
        `${ORIGIN}/api/jobs/:id/events`,
        async (_info, stream) => {
          await stream.send('run.started', {})
          await stream.send('task.progress', { taskId: 't1', percent: 50, note: 'héllo 🚀\nline two' })
          await stream.close()
        },
        { epoch },
      ),
    )
    expect(await readText(await fetch(STREAM_URL))).toBe(hubText)
    const dataOnly = await readText(await fetch(`${STREAM_URL}?framing=data-only`))
    expect(dataOnly).not.toContain('event:')
    // The same frames without `event:`, and the ids the handler went on to assign.
    expect(dataOnly).toBe(
      hubText
        .replace(/^event: .*\n/gm, '')
        .replaceAll(`${epoch}-2`, `${epoch}-4`)
        .replaceAll(`${epoch}-1`, `${epoch}-3`),
    )
  })

  it('counts ids on across attempts, after explicit sequence numbers, in its epoch', async () => {
    const handler = use(
      sseHandler(
        'GET',
        STREAM_URL,
        async (info, stream) => {
          if (info.attempt === 1) {
            await stream.send('run.started', {})
            await stream.send('task.created', { taskId: 't1' }, { id: 5 })
            await stream.send('task.created', { taskId: 't2' }, { id: 'custom' })
          } else {
            await stream.send('task.created', { taskId: 't3' })
          }
          await stream.close()
        },
        { epoch: 42 },
      ),
    )
    const first = await readText(await fetch(STREAM_URL))
    const second = await readText(await fetch(STREAM_URL))
    expect([...`${first}${second}`.matchAll(/^id: (.*)$/gm)].map((match) => match[1])).toEqual([
      '42-1',
      '42-5',
      'custom',
      '42-6',
    ])
    expect(handler.connections.map((connection) => connection.events.map((event) => event.id))).toEqual([
      ['42-1', '42-5', 'custom'],
      ['42-6'],
    ])
  })

  it('tells the script the attempt, cursor, body, path parameters and stream', async () => {
    const seen: Omit<StreamInfo, 'request'>[] = []
    use(
      sseHandler('POST', `${ORIGIN}/api/jobs/:id/events`, async ({ request: _request, ...info }, stream) => {
        seen.push(info)
        await stream.close()
      }),
    )
    await readText(
      await fetch(STREAM_URL, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'plan a trip' }),
      }),
    )
    // The UTF-8 bytes of the id, one per character, as fetch sends a header value.
    const utf8Id = String.fromCharCode(...new TextEncoder().encode('é-1'))
    await readText(
      await fetch(STREAM_URL, { method: 'POST', headers: { 'last-event-id': utf8Id }, body: 'hi' }),
    )
    await readText(await fetch(`${STREAM_URL}?lastEventId=1-9&framing=data-only`, { method: 'POST' }))
    expect(seen).toEqual([
      {
        params: { id: 'job-7' },
        body: { prompt: 'plan a trip' },
        lastEventId: null,
        attempt: 1,
        framing: 'named',
        stream: 'job-7',
      },
      {
        params: { id: 'job-7' },
        body: 'hi',
        lastEventId: 'é-1',
        attempt: 2,
        framing: 'named',
        stream: 'job-7',
      },
      {
        params: { id: 'job-7' },
        body: undefined,
        lastEventId: '1-9',
        attempt: 3,
        framing: 'data-only',
        stream: 'job-7',
      },
    ])
  })

  it('names the stream by its option, else by the path', async () => {
    const named = use(
      sseHandler(
        'GET',
        `${ORIGIN}/named`,
        async (_info, stream) => {
          await stream.send('run.started', {})
          await stream.close()
        },
        { stream: (info) => `run-${info.attempt}` },
      ),
    )
    const plain = use(
      sseHandler('GET', `${ORIGIN}/plain/path`, async (_info, stream) => {
        await stream.send('run.started', {})
        await stream.close()
      }),
    )
    await readText(await fetch(`${ORIGIN}/named`))
    await readText(await fetch(`${ORIGIN}/plain/path`))
    expect(named.connections[0]?.events[0]?.stream).toBe('run-1')
    expect(plain.connections[0]?.events[0]?.stream).toBe('/plain/path')
  })

  it('writes raw text and bytes, comments and retry fields exactly', async () => {
    use(
      sseHandler('GET', STREAM_URL, async (_info, stream) => {
        await stream.retry(1500)
        await stream.comment()
        await stream.comment('still here')
        await stream.raw('data: {not json\n\n')
        await stream.raw(new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xe2, 0x82, 0xac, 0x0a, 0x0a]))
        await stream.close()
      }),
    )
    const response = await fetch(STREAM_URL)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(await readText(response)).toBe(
      `${formatEvent({ retry: 1500 })}: hb\n\n: still here\n\ndata: {not json\n\ndata: €\n\n`,
    )
  })

  it('answers a status with its headers and body instead of a stream', async () => {
    const handler = use(
      sseHandler('GET', STREAM_URL, async (info, stream) => {
        if (info.attempt === 1) return stream.respond(401, { headers: { 'www-authenticate': 'Bearer' } })
        if (info.attempt === 2) {
          await stream.wait(5)
          return stream.respond(503, { headers: { 'retry-after': '2' }, body: 'busy' })
        }
        return stream.respond(204, { body: 'ignored: a 204 has no body' })
      }),
    )
    const unauthorized = await fetch(STREAM_URL)
    expect([unauthorized.status, unauthorized.headers.get('www-authenticate')]).toEqual([401, 'Bearer'])
    const busy = await fetch(STREAM_URL)
    expect([busy.status, busy.headers.get('retry-after'), await busy.text()]).toEqual([503, '2', 'busy'])
    const done = await fetch(STREAM_URL)
    expect([done.status, await done.text()]).toEqual([204, ''])
    expect(handler.connections.map((connection) => [connection.status, connection.end])).toEqual([
      [401, 'responded'],
      [503, 'responded'],
      [204, 'responded'],
    ])
  })

  it('refuses a status after the stream started, and any call after the script ended it', async () => {
    const failures: unknown[] = []
    use(
      sseHandler('GET', STREAM_URL, async (_info, stream) => {
        await stream.send('run.started', {})
        await stream.respond(401).catch((error: unknown) => failures.push(error))
        await stream.close()
        await stream.send('run.completed', {}).catch((error: unknown) => failures.push(error))
        await stream.drop().catch((error: unknown) => failures.push(error))
      }),
    )
    const text = await readText(await fetch(STREAM_URL))
    await vi.waitFor(() => expect(failures).toHaveLength(3))
    expect(frameCount(text)).toBe(1)
    expect(failures.map((error) => (isTaskwireError(error) ? error.code : error))).toEqual([
      'stream-closed',
      'stream-closed',
      'stream-closed',
    ])
  })

  it('fails the request with a network error when it drops before the stream started', async () => {
    const handler = use(sseHandler('GET', STREAM_URL, (_info, stream) => stream.drop()))
    await expect(fetch(STREAM_URL)).rejects.toThrow(TypeError)
    expect(handler.connections[0]).toMatchObject({ status: 0, end: 'dropped' })
  })

  it('cuts the stream after the client has read every frame sent before the drop', async () => {
    const handler = use(
      sseHandler('GET', STREAM_URL, async (_info, stream) => {
        for (let i = 1; i <= 3; i++) await stream.send('task.progress', { taskId: 't1', percent: i })
        await stream.drop()
      }),
    )
    const reader = (await fetch(STREAM_URL)).body?.getReader() as ReadableStreamDefaultReader<Uint8Array>
    let text = ''
    let failure: unknown
    for (let chunks = 0; chunks < 100; chunks++) {
      try {
        const { done, value } = await reader.read()
        if (done) break
        text += new TextDecoder().decode(value)
      } catch (error) {
        failure = error
        break
      }
    }
    expect(frameCount(text)).toBe(3)
    expect(failure).toBeInstanceOf(TypeError)
    expect(handler.connections[0]).toMatchObject({ status: 200, end: 'dropped' })
  })

  it('keeps the response open after the script returns, until the client leaves', async () => {
    let signal: AbortSignal | undefined
    const handler = use(
      sseHandler('GET', STREAM_URL, async (_info, stream) => {
        signal = stream.signal
        await stream.send('run.started', {})
      }),
    )
    const abort = new AbortController()
    const response = await fetch(STREAM_URL, { signal: abort.signal })
    const reader = response.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>
    await reader.read()
    // Open: another read waits for a frame that never comes.
    const next = reader.read().catch(() => ({ done: true as const }))
    expect(await Promise.race([next, new Promise((resolve) => setTimeout(resolve, 50, 'waiting'))])).toBe(
      'waiting',
    )
    expect(handler.connections[0]?.end).toBeNull()
    abort.abort()
    await vi.waitFor(() => expect(signal?.aborted).toBe(true))
    expect(handler.connections[0]?.end).toBe('client-closed')
  })

  it('ends a wait early when the client leaves, and does nothing for calls made after', async () => {
    const steps: string[] = []
    use(
      sseHandler('GET', STREAM_URL, async (_info, stream) => {
        await stream.open()
        await stream.wait(60_000)
        steps.push(`waited, aborted: ${stream.signal.aborted}`)
        await stream.send('run.started', {})
        await stream.drop()
        steps.push('done')
      }),
    )
    const abort = new AbortController()
    await fetch(STREAM_URL, { signal: abort.signal })
    abort.abort()
    await vi.waitFor(() => expect(steps).toEqual(['waited, aborted: true', 'done']))
  })

  it('waits on fake timers', async () => {
    vi.useFakeTimers()
    use(
      sseHandler('GET', STREAM_URL, async (_info, stream) => {
        await stream.send('run.started', {})
        await stream.wait(10_000)
        await stream.send('run.completed', {})
        await stream.close()
      }),
    )
    const reader = (await fetch(STREAM_URL)).body?.getReader() as ReadableStreamDefaultReader<Uint8Array>
    await reader.read()
    let second = false
    const pending = reader.read().then((result) => {
      second = true
      return result
    })
    await vi.advanceTimersByTimeAsync(9_999)
    expect(second).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(new TextDecoder().decode((await pending).value)).toContain('event: run.completed')
  })

  it('runs calls in the order they were made when the script does not await them', async () => {
    const handler = use(
      sseHandler('GET', STREAM_URL, (_info, stream) => {
        void stream.send('run.started', {})
        void stream.comment()
        void stream.send('run.completed', {})
        void stream.close()
      }),
    )
    const text = await readText(await fetch(STREAM_URL))
    expect(text.indexOf('run.started')).toBeLessThan(text.indexOf(': hb'))
    expect(text.indexOf(': hb')).toBeLessThan(text.indexOf('run.completed'))
    expect(handler.connections[0]?.end).toBe('closed')
  })

  it('answers a status the script gives without awaiting it before returning', async () => {
    use(
      sseHandler('GET', STREAM_URL, (_info, stream) => {
        void stream.wait(1)
        void stream.respond(503)
      }),
    )
    expect((await fetch(STREAM_URL)).status).toBe(503)
  })

  it('rejects a payload the catalog refuses, writing nothing', async () => {
    const failures: unknown[] = []
    use(
      sseHandler('GET', STREAM_URL, async (_info, stream) => {
        // @ts-expect-error percent is a number from 0 to 100
        await stream.send('task.progress', { taskId: 't1', percent: 'half' }).catch((e) => failures.push(e))
        // @ts-expect-error not a type of the catalog
        await stream.send('deploy.promoted', {}).catch((e) => failures.push(e))
        await stream.close()
      }),
    )
    expect(await readText(await fetch(STREAM_URL))).toBe('')
    expect(failures).toHaveLength(2)
    expect(failures[0]).toBeInstanceOf(TaskwireValidationError)
    expect(failures.map((error) => (isTaskwireError(error) ? error.code : error))).toEqual([
      'invalid-event',
      'unknown-event-type',
    ])
  })

  it('reports what a script throws, as a 500 before the stream and a drop after it', async () => {
    const errors: unknown[] = []
    const handler = use(
      sseHandler(
        'GET',
        STREAM_URL,
        async (info, stream) => {
          if (info.attempt === 2) await stream.send('run.started', {})
          throw new Error(`boom ${info.attempt}`)
        },
        { onError: (error) => errors.push(error) },
      ),
    )
    const early = await fetch(STREAM_URL)
    expect([early.status, await early.text()]).toEqual([500, 'The taskwire/msw script threw: Error: boom 1'])
    const late = await fetch(STREAM_URL)
    await expect(readText(late)).rejects.toThrow('boom 2')
    expect(errors.map(String)).toEqual(['Error: boom 1', 'Error: boom 2'])
    expect(handler.connections.map((connection) => [connection.status, connection.end])).toEqual([
      [500, 'failed'],
      [200, 'failed'],
    ])
  })

  it('records the connections, waits for one, and starts over on clear()', async () => {
    const handler = use(
      sseHandler('GET', STREAM_URL, async (_info, stream) => {
        await stream.send('run.started', {})
        await stream.close()
      }),
    )
    const third = handler.waitForConnection(3)
    for (const cursor of [null, '1-1', '1-2']) {
      await readText(await fetch(STREAM_URL, { headers: cursor === null ? {} : { 'last-event-id': cursor } }))
    }
    expect((await third).lastEventId).toBe('1-2')
    expect(handler.lastEventIds()).toEqual([null, '1-1', '1-2'])
    expect(handler.connections.map((connection) => connection.events[0]?.id)).toEqual(['1-1', '1-2', '1-3'])
    handler.clear()
    expect(handler.connections).toEqual([])
    await readText(await fetch(STREAM_URL))
    expect(handler.connections.map((connection) => [connection.attempt, connection.events[0]?.id])).toEqual([
      [1, '1-1'],
    ])
  })

  it('refuses an epoch that would make ids clients cannot order', () => {
    expect(() => sseHandler('GET', STREAM_URL, () => {}, { epoch: 'blue' })).toThrow(/epoch must be/)
  })
})
