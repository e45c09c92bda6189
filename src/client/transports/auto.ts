import type { ResolvedConnectOptions } from '../options.js'
import type { Transport } from '../transport.js'
import { eventSourceTransport } from './eventsource.js'
import { fetchTransport } from './fetch.js'

const pick = (options: ResolvedConnectOptions): Transport =>
  options.method === 'GET' && options.body === undefined && options.EventSource && !options.hasHeaders
    ? eventSourceTransport
    : fetchTransport

/**
 * The default transport: a native `EventSource` for a plain GET without headers where one
 * exists (it reconnects through browser-managed connections and HTTP/2), `fetch` otherwise
 * (any method, headers, body). Import `fetchTransport` or `eventSourceTransport` instead to
 * ship only one of the two.
 */
export const autoTransport: Transport = {
  name: 'auto',
  check: (options) => pick(options).check(options),
  open: (request, sink, options) => pick(options).open(request, sink, options),
}
