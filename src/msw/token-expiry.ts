import type { Catalog, DefaultCatalog } from '../core/index.js'
import { takeOver } from './controller.js'
import { replayEvents } from './replay-events.js'
import { positiveOrFalse } from './replay-from.js'
import type { ScriptEvent, StreamScript } from './types.js'

/** Options of {@link tokenExpiry}. */
export interface TokenExpiryOptions {
  /**
   * How many events a token is good for: after them its connection drops and every request
   * carrying it gets a 401.
   * @defaultValue `1`
   */
  expiresAfter?: number | undefined
  /**
   * The request header that carries the token.
   * @defaultValue `'authorization'`
   */
  header?: string | undefined
}

/**
 * A script in which tokens expire: a connection with a token streams (resuming after its
 * cursor, as in {@link replayFrom}) until the token has carried `expiresAfter` events, then
 * drops; from then on, and for a request without the header, the answer is 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"`, until a request carries a token not yet
 * seen. It checks that the client calls its `headers` function again on reconnecting and,
 * with `retryOn401`, once more after a 401.
 *
 * @param events - the stream's events, in order
 * @param options - how long a token lasts and where it travels
 * @returns the script, for {@link sseHandler}
 * @throws {@link taskwire!TaskwireError} `invalid-option` when `expiresAfter` is not a positive integer
 * @example
 * ```ts
 * sseHandler('GET', '/api/jobs/:id/events', tokenExpiry(events, { expiresAfter: 2 }))
 * connect(url, { headers: async () => ({ authorization: `Bearer ${await auth.token()}` }), retryOn401: true })
 * ```
 */
export function tokenExpiry<C extends Catalog = DefaultCatalog>(
  events: readonly ScriptEvent<C>[],
  options: TokenExpiryOptions = {},
): StreamScript<C> {
  const expiresAfter = positiveOrFalse('expiresAfter', options.expiresAfter ?? 1) ?? 1
  const header = options.header ?? 'authorization'
  const list = [...events] as readonly ScriptEvent<Catalog>[]
  // Per handler, so that `clear()` forgets which tokens expired.
  const key = Symbol('tokenExpiry')
  return async (info, script) => {
    const { wire, controller } = takeOver(script)
    let used = wire.store.get(key) as Map<string, number> | undefined
    if (used === undefined) {
      used = new Map()
      wire.store.set(key, used)
    }
    const token = info.request.headers.get(header) ?? ''
    const spent = used.get(token) ?? 0
    if (token === '' || spent >= expiresAfter) {
      await controller.respond(401, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } })
      return
    }
    const { sent } = await replayEvents(wire, controller, { events: list, dropAfter: expiresAfter - spent })
    used.set(token, spent + sent)
  }
}
