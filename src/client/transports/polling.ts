import { TaskwireError } from '../../core/index.js'
import { networkOutcome, outcomeForResponse } from '../http-outcome.js'
import type { PollBatch, Transport } from '../transport.js'
import { withQuery } from '../url.js'

/**
 * The `polling` transport, for networks that break streaming: `GET url?since=<lastEventId>`
 * every `pollIntervalMs`, each answer a JSON `{ events, lastEventId, ended }`. It is one
 * attempt for as long as polls succeed; a failed poll ends the attempt, so the client's
 * backoff and resume apply as on the streaming transports.
 *
 * @param request - the attempt: URL, cursor, headers, abort signal
 * @param sink - where the attempt reports
 * @param options - the resolved connect options (interval, fetch, credentials)
 */
export const pollingTransport: Transport = (request, sink, options) => {
  const signal = request.signal
  let timer: ReturnType<typeof setTimeout> | undefined
  let opened = false
  signal.addEventListener(
    'abort',
    () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    },
    { once: true },
  )
  void poll()

  async function poll(): Promise<void> {
    timer = undefined
    sink.activity()
    const since = request.lastEventId()
    const url = since === null ? request.url : withQuery(request.url, 'since', since)
    let batch: PollBatch
    try {
      const headers = await request.headers()
      if (signal.aborted) return
      const response = await (options.fetch as typeof fetch)(url, {
        headers: { accept: 'application/json', ...headers },
        credentials: options.credentials,
        cache: 'no-store',
        signal,
      })
      if (signal.aborted) return
      const refused = outcomeForResponse(response, 'application/json', `GET ${url}`)
      if (refused) {
        response.body?.cancel().catch(() => {
          // The body of a refused poll is not needed.
        })
        return sink.end(refused)
      }
      batch = readBatch(await response.json(), url)
    } catch (cause) {
      if (signal.aborted) return
      if (cause instanceof TaskwireError && cause.code === 'invalid-frame')
        return sink.end({ type: 'fatal', error: cause })
      return sink.end(networkOutcome(cause, `GET ${url}`))
    }
    if (signal.aborted) return
    if (!opened) {
      opened = true
      sink.open()
    }
    sink.poll(batch)
    if (signal.aborted) return
    if (batch.ended) return sink.end({ type: 'done' })
    sink.idle()
    timer = setTimeout(() => void poll(), options.pollIntervalMs)
  }
}

function readBatch(body: unknown, url: string): PollBatch {
  const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  const { events, lastEventId, ended, reset } = fields
  if (!Array.isArray(events) || (lastEventId !== null && typeof lastEventId !== 'string')) {
    throw new TaskwireError(
      'invalid-frame',
      `GET ${url} did not answer { events, lastEventId, ended }; is the URL a taskwire polling endpoint?`,
    )
  }
  return reset === undefined
    ? { events, lastEventId, ended: ended === true }
    : { events, lastEventId, ended: ended === true, reset }
}
