import { TaskwireError } from '../../core/index.js'
import { networkOutcome, outcomeForResponse } from '../http-outcome.js'
import type { Transport } from '../transport.js'

/**
 * The `fetch` transport: any method, headers and body, `Last-Event-ID` as a header, the
 * body read as a stream and decoded by the client's SSE decoder. It runs wherever `fetch`
 * streams response bodies (browsers, Node 18+, Deno, Bun, workers).
 *
 * @param request - the attempt: URL, cursor, headers, abort signal
 * @param sink - where the attempt reports
 * @param options - the resolved connect options (method, body, credentials, fetch)
 */
export const fetchTransport: Transport = (request, sink, options) => {
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
          ...(lastEventId !== null && { 'last-event-id': lastEventId }),
        },
        credentials: options.credentials,
        cache: 'no-store',
        signal,
      }
      if (options.body !== undefined) init.body = options.body
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
      throw new TaskwireError('network', `The headers function threw: ${String(cause)}`, { cause })
    }
  }
}

function cancel(response: Response): void {
  response.body?.cancel().catch(() => {
    // Discarding a body we will not read; nothing depends on the cancel succeeding.
  })
}
