/**
 * Mock Service Worker handlers that script taskwire streams for tests of code that consumes
 * them, without a server: `sseHandler(method, path, script)` answers GET and POST over fetch
 * streaming and EventSource, in Node (`setupServer`) and in browsers (`setupWorker`). A
 * script sends typed catalog events (ids as the hub assigns them), raw and malformed frames,
 * heartbeats and `retry:`, waits (fake timers drive it), drops or closes the connection, or
 * answers 401, 503 or 204. Presets script the faults that break real apps: a replay like the
 * hub's, a gap on reconnect, an expired token, a buffering proxy, a slow drip, a reconnect
 * storm. Each handler records its connections for assertions. Needs `msw` 2 (an optional peer
 * dependency); nothing in `taskwire/client` or `taskwire/react` imports it.
 *
 * @module taskwire/msw
 */
export type { BufferingProxyOptions } from './buffering-proxy.js'
export { bufferingProxy } from './buffering-proxy.js'
export type { GapOnReconnectOptions } from './gap-on-reconnect.js'
export { gapOnReconnect } from './gap-on-reconnect.js'
export type { ReconnectStormOptions } from './reconnect-storm.js'
export { reconnectStorm } from './reconnect-storm.js'
export type { ReplayFromOptions } from './replay-from.js'
export { replayFrom } from './replay-from.js'
export type { SlowDripOptions } from './slow-drip.js'
export { slowDrip } from './slow-drip.js'
export type { SseHandler, SseHandlerFactory, SseHandlerFunction } from './sse-handler.js'
export { sseHandler } from './sse-handler.js'
export type { TokenExpiryOptions } from './token-expiry.js'
export { tokenExpiry } from './token-expiry.js'
export type {
  ConnectionEnd,
  RespondInit,
  ScriptEvent,
  SendOptions,
  SseHandlerOptions,
  StreamConnection,
  StreamController,
  StreamInfo,
  StreamScript,
} from './types.js'
