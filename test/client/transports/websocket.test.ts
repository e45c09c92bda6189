import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { connect } from '../../../src/client/connect.js'
import type { WebSocketLike } from '../../../src/client/options.js'
import { webSocketTransport } from '../../../src/client/transports/websocket.js'
import type { TaskwireHttpError } from '../../../src/core/index.js'
import { frame, progress, started } from '../fakes.js'

/** A scriptable WebSocket that records what the client sent and how it closed. */
class FakeSocket implements WebSocketLike {
  static instances: FakeSocket[] = []
  readyState = 0
  sent: string[] = []
  closedWith: [number | undefined, string | undefined] | undefined
  onopen: WebSocketLike['onopen'] = null
  onmessage: WebSocketLike['onmessage'] = null
  onclose: WebSocketLike['onclose'] = null
  onerror: WebSocketLike['onerror'] = null
  constructor(readonly url: string) {
    FakeSocket.instances.push(this)
  }
  static get last(): FakeSocket {
    const last = FakeSocket.instances.at(-1)
    if (!last) throw new Error('no socket yet')
    return last
  }
  send(data: string): void {
    this.sent.push(data)
  }
  close(code?: number, reason?: string): void {
    this.closedWith = [code, reason]
    this.readyState = 3
  }
  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }
  message(data: unknown): void {
    this.onmessage?.({ data })
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3
    this.onerror?.({})
    this.onclose?.({ code, reason })
  }
  get handlers(): number {
    return [this.onopen, this.onmessage, this.onclose].filter(Boolean).length
  }
}

describe('connect over WebSocket', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    FakeSocket.instances = []
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  function open(extra: Parameters<typeof connect>[1] = {}) {
    return started(
      connect('http://api.test/ws/runs/1', {
        transport: webSocketTransport,
        WebSocket: FakeSocket,
        random: () => 0.5,
        onError: () => {},
        ...extra,
      }),
    )
  }

  it('turns an http URL into ws and sends {lastEventId} first', () => {
    const stream = open({ lastEventId: '12' })
    expect(FakeSocket.last.url).toBe('ws://api.test/ws/runs/1')
    FakeSocket.last.open()
    expect(FakeSocket.last.sent).toEqual(['{"lastEventId":"12"}'])
    stream.close()
  })

  it('decodes SSE text from messages, split anywhere, text or binary', () => {
    const stream = open()
    const ids: string[] = []
    stream.on('*', (event) => ids.push(event.id))
    const socket = FakeSocket.last
    socket.open()
    expect(stream.status).toBe('connecting')
    const text = `retry: 1000\n\n${progress(1)}${progress(2)}`
    socket.message(text.slice(0, 30))
    expect(stream.status).toBe('open')
    socket.message(new TextEncoder().encode(text.slice(30)))
    expect(ids).toEqual(['1', '2'])
    stream.close()
  })

  it('reconnects after a normal close and resumes with the last id', async () => {
    const stream = open()
    FakeSocket.last.open()
    FakeSocket.last.message(progress(4))
    FakeSocket.last.serverClose(1000)
    expect(stream.status).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(250)
    FakeSocket.last.open()
    expect(FakeSocket.last.sent).toEqual(['{"lastEventId":"4"}'])
    stream.close()
  })

  it.each([
    [4401, 401],
    [4403, 403],
    [4404, 404],
  ])('stops for good on close code %i', async (code, status) => {
    const stream = open()
    FakeSocket.last.open()
    FakeSocket.last.serverClose(code, '{"code":"x"}')
    expect(stream.status).toBe('closed')
    expect((stream.error as TaskwireHttpError).status).toBe(status)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(FakeSocket.instances).toHaveLength(1)
  })

  it('ends without error on close code 4204', () => {
    const stream = open()
    FakeSocket.last.serverClose(4204)
    expect(stream.status).toBe('closed')
    expect(stream.error).toBeNull()
  })

  it('waits the retryAfterMs of a 4503 close reason', async () => {
    const stream = open()
    FakeSocket.last.serverClose(4503, '{"code":"stream-limit","retryAfterMs":3000}')
    expect(stream.status).toBe('reconnecting')
    expect((stream.error as TaskwireHttpError).retryAfterMs).toBe(3000)
    // retryAfterMs is a floor: 3000 + floor(0.5 × 500) of jitter on top.
    await vi.advanceTimersByTimeAsync(3249)
    expect(FakeSocket.instances).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(FakeSocket.instances).toHaveLength(2)
    stream.close()
  })

  it('retries after an abnormal close (1006) and after 1013', async () => {
    const stream = open()
    FakeSocket.last.serverClose(1006)
    expect(stream.error?.code).toBe('network')
    await vi.advanceTimersByTimeAsync(250)
    FakeSocket.last.serverClose(1013, 'hub-closed')
    expect(stream.status).toBe('reconnecting')
    stream.close()
  })

  it('treats a silent socket as dead after heartbeatTimeoutMs', async () => {
    const stream = open({ heartbeatTimeoutMs: 30_000 })
    const socket = FakeSocket.last
    socket.open()
    socket.message(': hb\n\n')
    await vi.advanceTimersByTimeAsync(29_999)
    expect(stream.status).toBe('open')
    await vi.advanceTimersByTimeAsync(1)
    expect(stream.error?.code).toBe('timeout')
    expect(socket.closedWith?.[0]).toBe(1000)
    stream.close()
  })

  it('closes the socket and detaches every handler on close(), even from a handler', () => {
    const stream = open()
    const socket = FakeSocket.last
    socket.open()
    stream.on('task.progress', () => stream.close())
    socket.message(progress(1) + progress(2))
    expect(stream.status).toBe('closed')
    expect(stream.lastEventId).toBe('1')
    expect(socket.closedWith?.[0]).toBe(1000)
    expect(socket.handlers).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('closes after a terminal event', () => {
    const stream = open()
    FakeSocket.last.open()
    FakeSocket.last.message(frame(1, 'run.completed', {}))
    expect(stream.status).toBe('closed')
    expect(FakeSocket.last.handlers).toBe(0)
  })

  it('needs a WebSocket constructor', () => {
    expect(() => connect('ws://x', { transport: webSocketTransport, WebSocket: undefined })).toThrowError(
      /WebSocket constructor/,
    )
  })
})
