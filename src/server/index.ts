/**
 * The server side of taskwire: SSE headers, the hub (ids, replay, fan-out, limits,
 * heartbeat), the in-memory broker, the execution runner and webhook parsing. Adapters for
 * Node, Web `Response` runtimes, polling and WebSocket mount a hub on a route.
 *
 * @module taskwire/server
 */

export type {
  AccessDecision,
  AccessPolicy,
  AccessRequest,
  AccessResult,
  Door,
  HeaderReader,
  Refusal,
} from './access.js'
export type {
  Authorize,
  AuthorizeDecision,
  PlainAnswer,
  ServeOptions,
  ServeStreamOptions,
} from './admit-subscriber.js'
export { DEFAULT_SERVE_OPTIONS, FRAMING_PARAM } from './admit-subscriber.js'
export {
  type AttachWebSocketOptions,
  attachWebSocket,
  DEFAULT_ATTACH_WEBSOCKET_OPTIONS,
  MAX_WEBSOCKET_PAYLOAD_BYTES,
  WEBSOCKET_CLOSE_CODES,
  type WebSocketConnection,
  type WebSocketServerLike,
} from './attach-websocket.js'
export type {
  CancelExecutionOptions,
  Execution,
  ExecutionContext,
  RunStartedData,
  StartExecutionOptions,
} from './execution.js'
export {
  cancelExecution,
  DEFAULT_EXECUTION_OPTIONS,
  EXECUTION_LEASE_MS,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  startExecution,
} from './execution.js'
export { headerReaderOf, sseHeaders, sseHeadersFor } from './headers.js'
export type { Heartbeat, HeartbeatOptions } from './heartbeat.js'
export { createHeartbeat } from './heartbeat.js'
export { createHub } from './hub.js'
export type { HubOptions, ReplayOptions, ResolvedHubOptions, SnapshotMeta } from './hub-options.js'
export { DEFAULT_HUB_OPTIONS } from './hub-options.js'
export { LAST_EVENT_ID_PARAM, readLastEventId } from './last-event-id.js'
export type { MemoryBrokerOptions, ResolvedMemoryBrokerOptions } from './memory-broker.js'
export {
  createMemoryBroker,
  DEFAULT_MEMORY_BROKER_OPTIONS,
} from './memory-broker.js'
export type { ParsedEvent, ParseEventOptions, ValidationErrorBody } from './parse-event.js'
export {
  parseEvent,
  parseEventNode,
  parseEventRequest,
  validationErrorBody,
  validationErrorResponse,
  validationErrorStatus,
} from './parse-event.js'
export type { ReplayLog, ReplayLogOptions, ReplayLogRead } from './replay-log.js'
export { createReplayLog } from './replay-log.js'
export type { NodeRequest, NodeResponse, ServeNodeOptions, ServeResult } from './serve-node.js'
export { serveNode } from './serve-node.js'
export type { PollBody, PollOptions, ServePollOptions } from './serve-poll.js'
export { pollUpdates, SINCE_PARAM, servePoll } from './serve-poll.js'
export type { ServeSnapshotOptions } from './serve-snapshot.js'
export { serveSnapshot } from './serve-snapshot.js'
export type { ServeWebOptions } from './serve-web.js'
export { serveWeb } from './serve-web.js'
export type {
  AnyHub,
  AppendedEvent,
  Broker,
  BrokerListener,
  BrokerReadResult,
  DisconnectFilter,
  Hub,
  HubCloseOptions,
  HubReadResult,
  HubStats,
  Reservation,
  StoredEvent,
  StreamCheckpoint,
  SubscribeOptions,
  SubscriberSink,
  Subscription,
  SubscriptionEndReason,
  SubscriptionInfo,
  UnsequencedEvent,
} from './types.js'
