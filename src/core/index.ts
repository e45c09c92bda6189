/**
 * The core of taskwire: the event catalog and envelope, the SSE frame codec, the run-state
 * reducer and the error types. Runs anywhere (browsers, Node 20+, Deno, Bun, edge runtimes).
 *
 * @module taskwire
 */
export type {
  Catalog,
  CatalogOptions,
  Envelope,
  EventData,
  EventHandlers,
  EventInput,
  EventOf,
  EventSchemas,
  EventType,
} from './catalog.js'
export { defineCatalog } from './catalog.js'
export type { DecodedEvent, DecodeOptions, EventMessage, UnknownEventPolicy } from './decode-event.js'
export { decodeEvent } from './decode-event.js'
export type { DefaultCatalog } from './default-catalog.js'
export { defaultCatalog } from './default-catalog.js'
export type { EncodeOptions, Framing } from './encode-event.js'
export { encodeEvent } from './encode-event.js'
export type { TaskwireErrorCode, TaskwireErrorOptions, ValidationIssue } from './errors.js'
export { isTaskwireError, TaskwireError, TaskwireHttpError, TaskwireValidationError } from './errors.js'
export { compareEventIds, isSeenEventId } from './event-id.js'
export { isReservedEventType, isTerminalEventType, terminalEventTypes } from './event-types.js'
export type { EventFields } from './format-event.js'
export { formatEvent } from './format-event.js'
export type { ReducibleEvent } from './reduce-run.js'
export { reduceRun } from './reduce-run.js'
export type { RunFold } from './run-fold.js'
export { createRunFold } from './run-fold.js'
export type {
  AgentState,
  AgentStatus,
  ErrorInfo,
  NodeState,
  NodeStatus,
  RunState,
  RunStatus,
  TaskState,
  TaskStatus,
} from './run-state.js'
export { initialRunState } from './run-state.js'
export { errorInfoSchema, runStateSchema } from './run-state-schema.js'
export type { ValidationResult } from './validate-event.js'
export { validateEventData } from './validate-event.js'
