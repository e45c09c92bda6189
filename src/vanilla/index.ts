/**
 * A framework-free store over the taskwire client and the run-state reducer, for apps
 * without React: `createRunStore(url)` gives the live run state and the connection status
 * (a Svelte store as it is, easy to wrap for Vue or a plain DOM script), shared with every
 * other store and `taskwire/react` hook of the same stream; `bindConnectionIndicator` keeps
 * a status dot in step with it.
 *
 * @module taskwire/vanilla
 */
export type { ConnectionStatus, Resync, RunSnapshot } from '../client/index.js'
export type { IndicatorElement, IndicatorTitles, StatusSource } from './connection-indicator.js'
export { bindConnectionIndicator } from './connection-indicator.js'
export type { SharedRunStore } from './run-store.js'
export { createRunStore } from './run-store.js'
