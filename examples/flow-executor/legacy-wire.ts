import type { ServerResponse } from 'node:http'
import { createParser } from 'eventsource-parser'
import { type DefaultCatalog, decodeEvent, type EventOf, formatEvent } from 'taskwire'
import type { SubscriberSink } from 'taskwire/server'
import type { LegacyEvent } from './legacy-events.js'

/**
 * Translates one catalog event into the legacy event the old frontend expects, or nothing
 * for events it never knew (`stream.*`, `node.progress`).
 *
 * @param event - the event as the hub stored it
 * @param executionId - the execution's number, which every legacy node event repeats
 * @returns the legacy event, or undefined to send nothing
 */
export function toLegacyEvent(event: EventOf<DefaultCatalog>, executionId: number): LegacyEvent | undefined {
  switch (event.type) {
    case 'run.started':
      return { type: 'executionStarted', data: { executionId, mode: event.data.mode ?? 'manual' } }
    case 'node.started':
      return {
        type: 'nodeExecutionBefore',
        data: { executionId, nodeName: event.data.name ?? event.data.nodeId },
      }
    case 'node.completed':
      return {
        type: 'nodeExecutionAfter',
        // `?? null`: JSON drops an undefined field, and the frontend tells success by `data`.
        data: {
          executionId,
          nodeName: event.data.name ?? event.data.nodeId,
          data: event.data.output ?? null,
        },
      }
    case 'node.failed':
      return {
        type: 'nodeExecutionAfter',
        data: {
          executionId,
          nodeName: event.data.name ?? event.data.nodeId,
          error: { message: event.data.error.message },
        },
      }
    case 'run.completed':
    case 'run.failed':
    case 'run.cancelled':
      // The envelope's `ts` is when the hub accepted the terminal event.
      return { type: 'executionFinished', data: { finishedAt: event.ts } }
    default:
      return undefined
  }
}

/**
 * A sink for `hub.subscribe()` that writes the legacy wire instead of taskwire's frames. The
 * hub writes its `data-only` frames here; each is parsed back, translated and written to the
 * response as `data: {"type":"nodeExecutionAfter","data":{...}}`. Heartbeat comments pass
 * through unchanged, `retry:` is dropped (the legacy client reads one POST and never
 * reconnects), and the response's own buffer is what the hub measures, so a client that
 * stops reading is still cut at the hub's `highWaterMarkBytes`.
 *
 * @param res - the response of the legacy route, headers already sent
 * @param executionId - the execution's number
 * @param catalog - the hub's catalog, to read its frames back
 * @returns the sink to pass to `subscription.start()`
 */
export function legacySink(
  res: ServerResponse,
  executionId: number,
  catalog: DefaultCatalog,
): SubscriberSink {
  const closed = (): boolean => res.destroyed || res.writableEnded
  const parser = createParser({
    onEvent(message) {
      const decoded = decodeEvent(message, catalog)
      if (!decoded.ok) return
      const legacy = toLegacyEvent(decoded.value, executionId)
      if (legacy) res.write(formatEvent({ data: JSON.stringify(legacy) }))
    },
    // `: hb` keeps proxies from closing a quiet stream, and old clients ignore comments.
    onComment(comment) {
      res.write(formatEvent({ comment }))
    },
  })
  return {
    write(chunk) {
      if (!closed()) parser.feed(chunk)
    },
    bufferedBytes: () => res.writableLength,
    end(error) {
      if (closed()) return
      // Cut by the hub (a slow consumer, a shutdown): drop what is queued rather than flush it.
      if (error) res.destroy()
      else res.end()
    },
  }
}
