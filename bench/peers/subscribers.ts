import { createServer, type Server, type ServerResponse } from 'node:http'
import { SSE_HEADERS, streamOf } from './envelope.js'

/** A node:http server of the hand-written references and its subscribers, by stream. */
export interface SubscriberServer {
  readonly server: Server
  /** The open responses of each stream. */
  readonly subscribers: ReadonlyMap<string, ReadonlySet<ServerResponse>>
}

/**
 * The part both references share: each request to `/s/<stream>` gets the SSE headers at once
 * and joins its stream's set until it closes.
 *
 * @returns the server and the sets it fills
 */
export function createSubscriberServer(): SubscriberServer {
  const subscribers = new Map<string, Set<ServerResponse>>()
  const server = createServer((req, res) => {
    const stream = streamOf(req.url)
    if (stream === undefined) return void res.writeHead(404).end()
    res.writeHead(200, SSE_HEADERS)
    res.flushHeaders()
    const set = subscribers.get(stream) ?? new Set()
    subscribers.set(stream, set)
    set.add(res)
    res.on('close', () => set.delete(res))
  })
  return { server, subscribers }
}
