/**
 * The messages the orchestrator, the server process and the load generator exchange over
 * their IPC channels. The load generator is plain JavaScript; its messages are typed here.
 */

/** What one server process runs: its streams, its subscribers and how it publishes. */
export interface Plan {
  /** Streams published to, named `s0`, `s1` ... and served at `/s/<name>`. */
  streams: number
  /** Subscribers of each stream. */
  perStream: number
  /** Events published to each stream per turn. */
  perTurn: number
  /** Turns; each subscriber receives `perTurn × turns` events. */
  turns: number
  /** `null`: the next turn starts after `setImmediate`; a number: one turn every so many ms. */
  intervalMs: number | null
  /** How long the server waits, once every client is connected, before reading its memory. */
  settleMs: number
}

/** A memory reading taken after a full garbage collection. */
export interface Memory {
  rss: number
  heapUsed: number
}

/** The orchestrator's commands to the server process. */
export type ServerCommand =
  | { kind: 'settle' }
  /** Publishes the plan; a warm-up publishes it unpaced and is not measured. */
  | { kind: 'go'; warmUp: boolean }
  | { kind: 'stop' }
  | { kind: 'exit' }

/** The server process's reports. */
export type ServerMessage =
  | { kind: 'listening'; port: number; memory: Memory }
  | { kind: 'settled'; memory: Memory }
  | { kind: 'cpu'; micros: number }
  | { kind: 'error'; message: string }

/** The orchestrator's commands to the load generator. */
export type ClientsCommand = { kind: 'exit' }

/**
 * The load generator's reports. 'done' comes once per publication of the plan, with the
 * latencies (ms) the sampled connections saw since the previous 'done'.
 */
export type ClientsMessage =
  | { kind: 'ready' }
  | { kind: 'done'; latencies: number[] }
  | { kind: 'error'; message: string }
