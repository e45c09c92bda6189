/**
 * Adds a query parameter to a URL that may be relative (`/api/events`), which `new URL`
 * cannot parse without a base, keeping any `#fragment` last.
 *
 * @param url - the URL as the user gave it
 * @param name - the parameter name
 * @param value - its value, encoded here
 * @returns the URL with `name=value` appended
 */
export function withQuery(url: string, name: string, value: string): string {
  const hashAt = url.indexOf('#')
  const base = hashAt === -1 ? url : url.slice(0, hashAt)
  const hash = hashAt === -1 ? '' : url.slice(hashAt)
  const separator = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?'
  return `${base}${separator}${encodeURIComponent(name)}=${encodeURIComponent(value)}${hash}`
}

/**
 * Turns an `http(s):` or page-relative URL into a `ws(s):` URL.
 *
 * @param url - the URL as the user gave it
 * @returns the WebSocket URL
 */
export function toWebSocketUrl(url: string): string {
  if (/^wss?:/i.test(url)) return url
  if (/^https?:/i.test(url)) return url.replace(/^http/i, 'ws')
  const page = (globalThis as { location?: { href: string } }).location
  if (!page) return url
  return new URL(url, page.href).href.replace(/^http/i, 'ws')
}
