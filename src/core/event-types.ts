/** The event types that end a run; a server closes the stream after writing one. */
export const terminalEventTypes: readonly string[] = /* @__PURE__ */ Object.freeze([
  'run.completed',
  'run.failed',
  'run.cancelled',
])

/**
 * Tells whether an event type ends a run.
 *
 * @param type - an event type
 * @returns true for `run.completed`, `run.failed` and `run.cancelled`
 */
export function isTerminalEventType(type: string): boolean {
  return terminalEventTypes.includes(type)
}

/**
 * Tells whether an event type is reserved for the server: `stream.*` events (the snapshot a
 * subscriber gets first, the reset that replaces a stale reader's state) are written by the
 * hub alone. `hub.publish` and `parseEvent` refuse them, so no producer can forge the state
 * a viewer sees.
 *
 * @param type - an event type
 * @returns true for every type in the `stream.` namespace
 */
export function isReservedEventType(type: string): boolean {
  return type.startsWith('stream.')
}
