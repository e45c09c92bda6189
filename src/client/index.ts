/**
 * The taskwire client: `connect()` gives a stream handle that connects on its first
 * subscriber over EventSource, fetch, WebSocket or polling, keeps the stream across drops
 * (backoff with jitter, a heartbeat watchdog, resume after the last event id, duplicates
 * dropped) and disconnects after its last. `createRunStore` folds its events into a run
 * state. Web-standard APIs only: runs in browsers, Node 20+, Deno, Bun and workers.
 *
 * @module taskwire/client
 */
export { isTaskwireError, TaskwireError, TaskwireHttpError, TaskwireValidationError } from '../core/index.js'
export { connect } from './connect.js'
export type {
  BackoffOptions,
  ConnectOptions,
  Credentials,
  EventSourceConstructor,
  EventSourceLike,
  EventSourceMessageEvent,
  HeadersValue,
  RequestBody,
  ResolvedConnectOptions,
  ValidateMode,
  WebSocketConstructor,
  WebSocketLike,
} from './options.js'
export type { RunStore } from './run-store.js'
export { createRunStore } from './run-store.js'
export type { RunLease, RunSnapshot, RunSource, SharedRun } from './shared-run.js'
export { acquireRun } from './shared-run.js'
export type {
  ConnectionStats,
  ConnectionStatus,
  Resync,
  StreamHandle,
  StreamHandleBase,
  StreamSnapshot,
} from './stream-handle.js'
export type { AttemptOutcome, Transport, TransportRequest, TransportSink } from './transport.js'
export { autoTransport } from './transports/auto.js'
export { eventSourceTransport } from './transports/eventsource.js'
export { fetchTransport } from './transports/fetch.js'
export { pollingTransport } from './transports/polling.js'
export type {
  BroadcastChannelConstructor,
  BroadcastChannelLike,
  LockManagerLike,
  ShareTabsOptions,
} from './transports/share-tabs.js'
export { shareTabs } from './transports/share-tabs.js'
export { webSocketTransport } from './transports/websocket.js'
