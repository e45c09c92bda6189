import { type Catalog, type DefaultCatalog, TaskwireError } from '../core/index.js'
import { controllerOf, wireOf } from './controller.js'
import type { StreamScript } from './types.js'
import type { Wire } from './wire.js'

/** Options of {@link bufferingProxy}. */
export interface BufferingProxyOptions {
  /**
   * The proxy's buffer: frames are held until this many bytes wait, then passed on together
   * (nginx buffers 4 or 8 KiB per response by default). `false` holds everything until the
   * script closes or drops the connection.
   * @defaultValue `false`
   */
  bufferBytes?: number | false | undefined
}

/**
 * Puts a buffering proxy between a script and the client: the response starts at once, but
 * its frames, heartbeats included, are held until the buffer fills or the script ends the
 * response (`close()` or `drop()`), and then arrive together. An app behind such a proxy (a
 * default nginx, a compressing CDN) sees an open stream that stays silent, then everything
 * at once; its watchdog fires when heartbeats stop arriving. Status answers pass unchanged.
 *
 * @param script - the script whose frames the proxy holds
 * @param options - the buffer size
 * @returns the script, for {@link sseHandler}
 * @throws {@link taskwire!TaskwireError} `invalid-option` when `bufferBytes` is not a positive integer
 * @example
 * ```ts
 * sseHandler('GET', '/api/jobs/:id/events', bufferingProxy(replayFrom(events)))
 * ```
 */
export function bufferingProxy<C extends Catalog = DefaultCatalog>(
  script: StreamScript<C>,
  options: BufferingProxyOptions = {},
): StreamScript<C> {
  const limit = options.bufferBytes ?? false
  if (limit !== false && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new TaskwireError(
      'invalid-option',
      `bufferBytes must be a positive integer or false, got ${limit}.`,
    )
  }
  return async (info, outer) => {
    const wire = wireOf(outer)
    let held: Uint8Array[] = []
    let heldBytes = 0
    const release = async (): Promise<void> => {
      if (heldBytes === 0) return
      const bytes = new Uint8Array(heldBytes)
      let at = 0
      for (const chunk of held) {
        bytes.set(chunk, at)
        at += chunk.byteLength
      }
      held = []
      heldBytes = 0
      await wire.write(bytes)
    }
    const proxied: Wire = {
      ...wire,
      async write(bytes) {
        if (wire.signal.aborted) return
        // The proxy passes the upstream's headers on at once; only the body waits.
        await wire.open()
        held.push(bytes)
        heldBytes += bytes.byteLength
        if (limit !== false && heldBytes >= limit) await release()
      },
      async close() {
        await release()
        await wire.close()
      },
      async drop() {
        await release()
        await wire.drop()
      },
    }
    await script(info, controllerOf<C>(proxied))
  }
}
