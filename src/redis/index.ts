/**
 * A broker on Redis Streams for running the taskwire hub in several processes: every process
 * can accept any client, publish to any stream and replay from the shared log. This version
 * exports nothing yet: the broker arrives in a later release.
 *
 * @module taskwire/redis
 */
export {}
