/**
 * Mock Service Worker handlers that serve scripted taskwire streams in tests: events on a
 * schedule, dropped connections, reconnects with `Last-Event-ID`, malformed frames. This
 * version exports nothing yet: the handlers arrive in a later release.
 *
 * @module taskwire/msw
 */
export {}
