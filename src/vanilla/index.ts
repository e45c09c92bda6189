/**
 * A framework-free store over the taskwire client and the run-state reducer, for apps
 * without React: subscribe to the reduced state and the connection status, and bind them to
 * the DOM. This version exports nothing yet: the store arrives in a later release.
 *
 * @module taskwire/vanilla
 */
export {}
