import { TaskwireError } from '../../core/index.js'
import { outcomeForStatus } from '../http-outcome.js'
import type { WebSocketLike } from '../options.js'
import type { AttemptOutcome, Transport } from '../transport.js'
import { toWebSocketUrl } from '../url.js'

/**
 * The `websocket` transport. The first message the client sends is `{"lastEventId": ...}`;
 * every server message is SSE text, the same bytes the hub writes to HTTP responses, so it
 * goes through the same decoder. Close codes carry what HTTP statuses carry on the other
 * transports: 1000 is a normal close (reconnect unless the run ended), 4000 + status for
 * the rest (4204 done, 4401, 4403, 4404 fatal, 4503 retry), 1013 retry later.
 */
export const webSocketTransport: Transport = {
  name: 'websocket',
  check: (options) =>
    options.WebSocket
      ? undefined
      : 'No WebSocket constructor: pass one as `WebSocket` (the `ws` package in Node 20).',
  open(request, sink, options) {
    const url = toWebSocketUrl(request.url)
    const Socket = options.WebSocket as NonNullable<typeof options.WebSocket>
    const socket: WebSocketLike = new Socket(url)
    let opened = false
    const decoder = new TextDecoder()

    socket.onopen = () => {
      socket.send(JSON.stringify({ lastEventId: request.lastEventId() }))
    }
    socket.onmessage = (event) => {
      // The server writes `retry:` first, so the first message is the stream's acceptance.
      if (!opened) {
        opened = true
        sink.open()
      }
      const data = event.data
      if (typeof data === 'string') return sink.text(data)
      if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return sink.text(decoder.decode(data))
      sink.activity()
    }
    socket.onclose = (event) => {
      release()
      sink.end(outcomeForClose(event.code, event.reason, url))
    }
    // A close event always follows an error event, and carries the code we need.
    socket.onerror = () => {}

    let released = false
    function release(): void {
      if (released) return
      released = true
      request.signal.removeEventListener('abort', abort)
      socket.onopen = null
      socket.onmessage = null
      socket.onclose = null
    }
    function abort(): void {
      release()
      socket.close(1000, 'client closed')
    }
    request.signal.addEventListener('abort', abort, { once: true })
  },
}

/**
 * Maps a WebSocket close to what the client does next.
 *
 * @param code - the close code
 * @param reason - the close reason; for 4503 it may be JSON with `retryAfterMs`
 * @param url - for messages
 * @returns the outcome
 */
export function outcomeForClose(code: number, reason: string, url: string): AttemptOutcome {
  if (code >= 4000 && code < 5000) {
    const outcome = outcomeForStatus(
      code - 4000,
      retryAfterFromReason(reason),
      `WebSocket ${url} (close ${code})`,
    )
    if (outcome) return outcome
  }
  if (code === 1000 || code === 1001) return { type: 'retry' }
  const detail = reason ? `: ${reason}` : ''
  const error = new TaskwireError(
    'network',
    `WebSocket ${url} closed with code ${code}${detail}; reconnecting.`,
  )
  return { type: 'retry', error }
}

function retryAfterFromReason(reason: string): number | undefined {
  if (!reason.startsWith('{')) return undefined
  try {
    const value = (JSON.parse(reason) as { retryAfterMs?: unknown }).retryAfterMs
    return typeof value === 'number' && value >= 0 ? value : undefined
  } catch {
    // A reason is free text unless it starts like JSON and parses; then it is only text.
    return undefined
  }
}
