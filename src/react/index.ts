/**
 * React hooks over the taskwire client and the run-state reducer, built on
 * `useSyncExternalStore`. This version exports nothing yet: the hooks arrive in a later
 * release.
 *
 * @module taskwire/react
 */
'use client'

export {}
