import { TaskwireError } from '../../core/index.js'
import { networkOutcome, outcomeForResponse } from '../http-outcome.js'
import type { Transport } from '../transport.js'
import { withQuery } from '../url.js'

/** One response of the polling endpoint: `{ events, lastEventId, ended, reset? }`. */
interface PollBatch {
  /** The envelopes after the cursor, in id order, not yet validated. */
  events: unknown[]
  /** The cursor to send as `since` next time. */
  lastEventId: string | null
  /** True when the stream has ended and nothing follows. */
  ended: boolean
  /**
   * Set when the cursor fell out of the server's replay log: the whole state, which
   * replaces the client's, folded up to `lastEventId`. Not yet validated.
   */
  reset?: unknown
}

/**
 * The `polling` transport, for networks that break streaming: `GET url?since=<lastEventId>`
 * every `pollIntervalMs`, each answer a JSON `{ events, lastEventId, ended }`. It is one
 * attempt for as long as polls succeed; a failed poll ends the attempt, so the client's
 * backoff and resume apply as on the streaming transports.
 */
export const pollingTransport: Transport = {
  name: 'polling',
  check: (options) => (options.fetch ? undefined : 'No fetch available: pass one as `fetch`.'),
  open(request, sink, options) {
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
      sink.text(toFrames(batch))
      if (signal.aborted) return
      if (batch.ended) return sink.end({ type: 'done' })
      sink.idle()
      timer = setTimeout(() => void poll(), options.pollIntervalMs)
    }
  },
}

/**
 * Writes a poll answer as the SSE frames a stream would have carried, so it goes through the
 * same decoding, validation and resync as every transport: a reset first (as the
 * `stream.reset` the server would have sent), then each event, then an id-only block that
 * moves the cursor to the answer's `lastEventId`.
 */
function toFrames(batch: PollBatch): string {
  const frame = (id: unknown, data: string): string =>
    // An id with a line break could not be one SSE field; the envelope in `data` still has it.
    typeof id === 'string' && !/[\r\n\0]/.test(id) ? `id: ${id}\ndata: ${data}\n\n` : `data: ${data}\n\n`
  let text = ''
  if (batch.reset !== undefined) {
    const id = batch.lastEventId ?? '0'
    const data = { state: batch.reset, reason: 'cursor-expired' }
    const reset = { type: 'stream.reset', stream: '', id, ts: new Date().toISOString(), data }
    text += frame(id, JSON.stringify(reset))
  }
  for (const event of batch.events)
    text += frame((event as { id?: unknown } | null)?.id, JSON.stringify(event))
  if (batch.lastEventId !== null && !/[\r\n\0]/.test(batch.lastEventId))
    text += `id: ${batch.lastEventId}\n\n`
  return text
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
