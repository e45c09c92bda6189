import { TaskwireHttpError } from '../../core/index.js'
import { networkOutcome, outcomeForResponse, outcomeForStatus } from '../http-outcome.js'
import type { EventSourceLike, EventSourceMessageEvent } from '../options.js'
import type { AttemptOutcome, Transport } from '../transport.js'
import { withQuery } from '../url.js'

const CLOSED = 2

/**
 * The `eventsource` transport: a native `EventSource` (or the `eventsource` package),
 * GET only. taskwire closes it on the first error and reconnects with its own backoff, so
 * backoff, resume, duplicate filtering and `closeOn` behave as on every other transport;
 * an `EventSource` cannot set headers, so the resume id travels as `?lastEventId=`.
 *
 * A browser `EventSource` hides the status of a refused connection; when it fails before
 * opening, the transport asks once more with `fetch` (if there is one) to tell a 401 or 204
 * from a 503, so fatal statuses stop as they do on `fetch`. It asks the server for
 * data-only framing (`?framing=data-only`): a browser dispatches a named event only to a
 * listener of that name, so unknown types would otherwise be lost.
 */
export const eventSourceTransport: Transport = {
  name: 'eventsource',
  check: (options) =>
    !options.EventSource
      ? 'No EventSource: pass one as `EventSource`.'
      : options.method !== 'GET' || options.body !== undefined
        ? 'EventSource sends only GET.'
        : undefined,
  open(request, sink, options) {
    const signal = request.signal
    const lastEventId = request.lastEventId()
    // Data-only frames all reach the `message` listener, so no event type is lost to a name
    // nobody listens to; the envelope in `data` still carries the type.
    const dataOnly = withQuery(request.url, 'framing', 'data-only')
    const url = lastEventId === null ? dataOnly : withQuery(dataOnly, 'lastEventId', lastEventId)
    const Source = options.EventSource as NonNullable<typeof options.EventSource>
    const source: EventSourceLike = new Source(url, { withCredentials: options.credentials === 'include' })
    let opened = false

    const onMessage = (event: EventSourceMessageEvent): void => {
      sink.message({
        data: typeof event.data === 'string' ? event.data : String(event.data),
        event: event.type,
        id: event.lastEventId || undefined,
      })
    }
    const onOpen = (): void => {
      opened = true
      sink.open()
      // An EventSource hides heartbeat comments, so silence proves nothing: no watchdog.
      sink.idle()
    }
    const onError = (event: EventSourceMessageEvent): void => {
      const readyState = source.readyState
      release()
      const code = (event as { code?: unknown }).code
      if (typeof code === 'number') {
        sink.end(outcomeForCode(code, readyState, url))
      } else if (opened || readyState !== CLOSED || !options.fetch) {
        // Open and then dropped, or a network failure: EventSource itself would reconnect.
        sink.end(networkOutcome('the connection dropped', `EventSource ${url}`))
      } else {
        void probe(url).then((outcome) => {
          if (!signal.aborted) sink.end(outcome)
        })
      }
    }

    source.addEventListener('open', onOpen)
    source.addEventListener('error', onError)
    source.addEventListener('message', onMessage)

    let released = false
    function release(): void {
      if (released) return
      released = true
      signal.removeEventListener('abort', release)
      source.removeEventListener('open', onOpen)
      source.removeEventListener('error', onError)
      source.removeEventListener('message', onMessage)
      source.close()
    }
    signal.addEventListener('abort', release, { once: true })

    async function probe(target: string): Promise<AttemptOutcome> {
      try {
        const response = await (options.fetch as typeof fetch)(target, {
          headers: { accept: 'text/event-stream' },
          credentials: options.credentials,
          cache: 'no-store',
          signal,
        })
        response.body?.cancel().catch(() => {
          // Only the status was needed; the body is abandoned on purpose.
        })
        return (
          outcomeForResponse(response, 'text/event-stream', `GET ${target}`) ??
          networkOutcome('the server accepted the stream on a second try', `EventSource ${target}`)
        )
      } catch (cause) {
        return networkOutcome(cause, `EventSource ${target}`)
      }
    }
  },
}

function outcomeForCode(code: number, readyState: number, url: string): AttemptOutcome {
  const outcome = outcomeForStatus(code, undefined, `GET ${url}`)
  if (outcome) return outcome
  // A 2xx code with a closed source is the `eventsource` package's wrong-content-type failure.
  if (readyState === CLOSED) {
    const message = `GET ${url} answered ${code} without text/event-stream; is the URL a taskwire endpoint?`
    return { type: 'fatal', error: new TaskwireHttpError(code, message, { code: 'invalid-content-type' }) }
  }
  return networkOutcome('the connection dropped', `EventSource ${url}`)
}
