import type { ResolvedConnectOptions } from '../options.js'
import type { Transport } from '../transport.js'
import { eventSourceTransport } from './eventsource.js'
import { fetchTransport } from './fetch.js'

const pick = (options: ResolvedConnectOptions): Transport =>
  options.method === 'GET' && options.body === undefined && options.EventSource && !options.hasHeaders
    ? eventSourceTransport
    : fetchTransport

/**
 * Picks a transport per connection: a native `EventSource` for a plain GET without headers
 * where one exists, `fetch` otherwise (any method, headers, body). It ships both; import
 * `fetchTransport` (the default) or `eventSourceTransport` to ship only one.
 */
export const autoTransport: Transport = {
  name: 'auto',
  check: (options) => pick(options).check(options),
  open: (request, sink, options) => pick(options).open(request, sink, options),
}
