/**
 * React hooks over the taskwire client and run-state reducer. This version exports nothing
 * yet: the hooks arrive in a later release.
 *
 * @module taskwire/react
 */
export {};
