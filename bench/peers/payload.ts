/** The payload every variant publishes: the catalog's `agent.progress`, about 256 bytes of JSON. */
export interface ProgressPayload {
  role: string
  message: string
  percent: number
}

// 44 characters of JSON around the message and two digits of percent make 256.
const MESSAGE_CHARS = 210

/**
 * The i-th event's payload. The message starts with `t=<publish time>;` so the load
 * generator can measure latency: the catalog's schema drops unknown fields, so a `t` field of
 * its own would not reach taskwire's subscribers, and every variant must send the same bytes.
 *
 * @param i - the event's number
 * @returns the payload, stamped with the current time in epoch ms
 */
export function progressPayload(i: number): ProgressPayload {
  const t = (performance.timeOrigin + performance.now()).toFixed(3)
  return {
    role: 'tech-lead',
    message: `t=${t};step ${i}: `.padEnd(MESSAGE_CHARS, 'x'),
    percent: 10 + (i % 90),
  }
}
