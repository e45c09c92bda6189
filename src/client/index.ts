/**
 * The taskwire client: `connect()` opens a stream over EventSource, fetch, WebSocket or
 * polling, keeps it open across drops (backoff with full jitter, heartbeat watchdog, resume
 * after the last event id, duplicates dropped), folds events into a run state, and exposes
 * it as typed handlers, an async iterator and a framework-free store. Web-standard APIs
 * only: runs in browsers, Node 20+, Deno, Bun and workers.
 *
 * @module taskwire/client
 */
export type { Backoff, BackoffHint, BackoffOptions } from './backoff.js'
export { createBackoff } from './backoff.js'
export { connect } from './connect.js'
export type {
  ConnectOptions,
  EventSourceConstructor,
  EventSourceLike,
  EventSourceMessageEvent,
  HeadersValue,
  TransportName,
  ValidateMode,
  WebSocketConstructor,
  WebSocketLike,
} from './options.js'
export { DEFAULT_CONNECT_OPTIONS } from './options.js'
export type { SseDecoder, SseDecoderCallbacks, SseDecoderOptions } from './sse-decoder.js'
export { createSseDecoder } from './sse-decoder.js'
export type { ConnectionStats, ConnectionStatus, StreamHandle, StreamSnapshot } from './stream-handle.js'
export type { Watchdog } from './watchdog.js'
export { createWatchdog } from './watchdog.js'
