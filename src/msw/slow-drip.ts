import { type Catalog, type DefaultCatalog, TaskwireError } from '../core/index.js'
import { controllerOf, wireOf } from './controller.js'
import type { StreamScript } from './types.js'
import type { Wire } from './wire.js'

/** Options of {@link slowDrip}. */
export interface SlowDripOptions {
  /**
   * The size of each piece, in bytes. Pieces split lines, fields and multi-byte characters.
   * @defaultValue `1`
   */
  chunkBytes?: number | undefined
  /**
   * The pause between two pieces (a `wait()`, so fake timers drive it).
   * @defaultValue `5`
   */
  intervalMs?: number | undefined
}

/**
 * Delivers everything a script writes in small pieces with pauses between them, as a slow or
 * congested network does: frames arrive split at every byte (inside a field name, between
 * CR and LF, in the middle of a UTF-8 character), so a reader that assumes whole frames
 * per chunk breaks.
 *
 * @param script - the script whose frames drip
 * @param options - the piece size and the pause
 * @returns the script, for {@link sseHandler}
 * @throws {@link taskwire!TaskwireError} `invalid-option` for a piece size that is not a
 *   positive integer or a negative pause
 * @example
 * ```ts
 * sseHandler('GET', '/api/jobs/:id/events', slowDrip(replayFrom(events), { chunkBytes: 3, intervalMs: 10 }))
 * ```
 */
export function slowDrip<C extends Catalog = DefaultCatalog>(
  script: StreamScript<C>,
  options: SlowDripOptions = {},
): StreamScript<C> {
  const chunkBytes = options.chunkBytes ?? 1
  const intervalMs = options.intervalMs ?? 5
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || !(intervalMs >= 0)) {
    throw new TaskwireError(
      'invalid-option',
      `chunkBytes must be a positive integer and intervalMs >= 0, got ${chunkBytes} and ${intervalMs}.`,
    )
  }
  return async (info, outer) => {
    const wire = wireOf(outer)
    const dripping: Wire = {
      ...wire,
      async write(bytes) {
        for (let at = 0; at < bytes.byteLength; at += chunkBytes) {
          if (wire.signal.aborted) return
          if (at > 0) await wire.wait(intervalMs)
          await wire.write(bytes.subarray(at, at + chunkBytes))
        }
      },
    }
    await script(info, controllerOf<C>(dripping))
  }
}
