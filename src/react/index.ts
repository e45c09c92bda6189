/**
 * React hooks over the taskwire client and the run-state reducer, built on
 * `useSyncExternalStore` (React 18 and 19): `useRun` for a run's live state (or a selected
 * part of it), `useEvent` for a handler per event type, `useConnectionStatus` for a status
 * dot, and `useExecution` to start a run with a POST and follow it. Components that watch
 * the same stream share one connection, opened after the first one mounts and closed after
 * the last one unmounts; nothing connects while rendering or on the server.
 *
 * @module taskwire/react
 */
'use client'

export type { ConnectionStatus, Resync, RunSnapshot, RunSource } from '../client/index.js'
export type { ExecutionSnapshot, UseExecutionOptions } from './execution.js'
export type { UseConnectionStatusResult } from './use-connection-status.js'
export { useConnectionStatus } from './use-connection-status.js'
export { useEvent } from './use-event.js'
export type { UseExecutionResult } from './use-execution.js'
export { useExecution } from './use-execution.js'
export type { UseRunOptions, UseRunResult } from './use-run.js'
export { useRun } from './use-run.js'
