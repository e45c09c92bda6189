/**
 * The executor's own wire format, which existing frontends already parse: one
 * `data: {"type": ..., "data": {...}}` frame per event, without `event:` or `id:` lines.
 * The server and the page both read these types.
 */
export type LegacyEvent =
  | {
      type: 'executionStarted'
      data: { executionId: number; mode: string }
    }
  | {
      type: 'nodeExecutionBefore'
      data: { executionId: number; nodeName: string }
    }
  | {
      // A node that succeeded carries its output in `data`, one that failed carries `error`.
      type: 'nodeExecutionAfter'
      data:
        | { executionId: number; nodeName: string; data: unknown }
        | { executionId: number; nodeName: string; error: { message: string } }
    }
  | {
      type: 'executionFinished'
      data: { finishedAt: string }
    }
