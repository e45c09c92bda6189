import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { attachWebSocket, createHub, serveNode } from '../../../../src/server/index.js'

/**
 * Starts, in a snippet's process, a server whose every path streams one finished run (SSE on
 * HTTP, the same run on WebSocket), so that client snippets connect, receive it and close by
 * themselves. Relative URLs resolve against it, as in a page served from it. Nothing it opens
 * keeps the process alive: the process ends when the snippet's own work does.
 *
 * @returns the stream's `http:` and `ws:` URLs
 */
export async function startFixtureStream(): Promise<{ url: string; wsUrl: string }> {
  const hub = createHub()
  await hub.publish('job-7', 'run.started', {})
  await hub.publish('job-7', 'task.created', { taskId: 't1', title: 'Build' })
  await hub.publish('job-7', 'task.progress', { taskId: 't1', percent: 50 })
  await hub.publish('job-7', 'agent.completed', { role: 'researcher', durationMs: 1200 })
  await hub.publish('job-7', 'task.completed', { taskId: 't1' })
  await hub.publish('job-7', 'run.completed', {})
  const server = createServer((req, res) => void serveNode(hub, req, res, { stream: 'job-7' }))
  // Its port is not the snippet's: preload.ts leaves servers with this mark alone.
  Object.assign(server, { [Symbol.for('taskwire.snippet.fixture-server')]: true })
  server.on('connection', (socket) => socket.unref())
  const wss = new WebSocketServer({ server, maxPayload: 4096 })
  attachWebSocket(hub, wss, { stream: () => 'job-7' })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  server.unref()
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}/api/jobs/job-7/events`
  // As in a page served from it: relative URLs resolve against it, for fetch too.
  Object.assign(globalThis, { location: new URL(url) })
  const fetchOfNode = globalThis.fetch
  globalThis.fetch = (input, init) =>
    fetchOfNode(typeof input === 'string' && input.startsWith('/') ? new URL(input, url) : input, init)
  const stored = new Map<string, string>([['token', 'a-token']])
  Object.assign(globalThis, {
    localStorage: {
      getItem: (key: string) => stored.get(key) ?? null,
      setItem: (key: string, value: string) => void stored.set(key, value),
    },
  })
  return { url, wsUrl: `ws://127.0.0.1:${port}/ws/jobs/job-7` }
}
