import { TaskwireError } from '../../core/index.js'
import { networkOutcome, outcomeForResponse } from '../http-outcome.js'
import type { Transport } from '../transport.js'

/**
 * The `fetch` transport: any method, headers and body, `Last-Event-ID` as a header, the
 * body read as a stream and decoded by the client's SSE decoder. It runs wherever `fetch`
 * streams response bodies (browsers, Node 18+, Deno, Bun, workers).
 */
export const fetchTransport: Transport = {
  name: 'fetch',
  check: (options) => (options.fetch ? undefined : 'No fetch: pass one as `fetch`.'),
  open(request, sink, options) {
    void run()

    async function run(): Promise<void> {
      const signal = request.signal
      let response: Response
      try {
        const headers = await userHeaders()
        if (signal.aborted) return
        const lastEventId = request.lastEventId()
        const init: RequestInit = {
          method: options.method,
          headers: {
            accept: 'text/event-stream',
            ...headers,
            ...(lastEventId !== null && { 'last-event-id': utf8Header(lastEventId) }),
          },
          credentials: options.credentials,
          cache: 'no-store',
          signal,
        }
        // The body is whatever the caller's fetch accepts; it is handed over untouched.
        if (options.body !== undefined) init.body = options.body as NonNullable<RequestInit['body']>
        response = await (options.fetch as typeof fetch)(request.url, init)
      } catch (cause) {
        if (!signal.aborted) sink.end(networkOutcome(cause, `fetch ${request.url}`))
        return
      }
      if (signal.aborted) return cancel(response)
      const refused = outcomeForResponse(response, 'text/event-stream', `${options.method} ${request.url}`)
      if (refused) {
        cancel(response)
        sink.end(refused)
        return
      }
      sink.open()
      const reader = (response.body as ReadableStream<Uint8Array>).getReader()
      const stopReading = (): void => {
        reader.cancel().catch(() => {
          // The stream is being abandoned on purpose; a failing cancel changes nothing.
        })
      }
      signal.addEventListener('abort', stopReading, { once: true })
      // WHATWG §9.2.5: decode as UTF-8 and strip one leading BOM. The decoder keeps the BOM
      // so the SSE decoder strips exactly one, at the start of the stream only.
      const decoder = new TextDecoder('utf-8', { ignoreBOM: true })
      try {
        for (;;) {
          const { done, value } = await reader.read()
          if (signal.aborted) return
          if (done) break
          sink.text(decoder.decode(value, { stream: true }))
        }
        const rest = decoder.decode()
        if (rest !== '') sink.text(rest)
        sink.end({ type: 'retry' })
      } catch (cause) {
        if (!signal.aborted) sink.end(networkOutcome(cause, `reading ${request.url}`))
      } finally {
        signal.removeEventListener('abort', stopReading)
      }
    }

    async function userHeaders(): Promise<Record<string, string>> {
      try {
        return await request.headers()
      } catch (cause) {
        throw new TaskwireError('network', `headers() threw: ${String(cause)}`, { cause })
      }
    }
  },
}

/**
 * A header value carrying the UTF-8 bytes of a string, one byte per character: fetch takes
 * header values as byte strings, and `Last-Event-ID` carries the id's UTF-8 encoding
 * (WHATWG HTML §9.2.4), which a non-ASCII id would otherwise make fetch refuse.
 */
function utf8Header(value: string): string {
  return String.fromCharCode(...new TextEncoder().encode(value))
}

function cancel(response: Response): void {
  response.body?.cancel().catch(() => {
    // Discarding a body we will not read; nothing depends on the cancel succeeding.
  })
}
