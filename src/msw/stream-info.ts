import type { Framing } from '../core/index.js'
import type { StreamInfo } from './types.js'

/**
 * Reads what a script is told about a request: its body, the cursor it resumes after, the
 * framing it asks for and the stream its envelopes name.
 *
 * @param request - the intercepted request
 * @param params - the path parameters msw matched
 * @param attempt - which request to the handler this is
 * @param stream - the handler's `stream` option
 * @returns the info handed to the script
 */
export async function readStreamInfo(
  request: Request,
  params: StreamInfo['params'],
  attempt: number,
  stream: string | ((info: Omit<StreamInfo, 'stream'>) => string) | undefined,
): Promise<StreamInfo> {
  const url = new URL(request.url)
  const base = {
    request,
    params,
    body: await readBody(request),
    lastEventId: readLastEventId(request.headers.get('last-event-id'), url),
    attempt,
    framing: (url.searchParams.get('framing') === 'data-only' ? 'data-only' : 'named') as Framing,
  }
  const name =
    typeof stream === 'function'
      ? stream(base)
      : (stream ?? firstString(params.stream) ?? firstString(params.id) ?? url.pathname)
  return Object.freeze({ ...base, stream: name })
}

function firstString(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0]
}

async function readBody(request: Request): Promise<unknown> {
  if (request.body === null) return undefined
  // A clone, so the script can still read `request` itself.
  const text = await request.clone().text()
  if (text === '') return undefined
  const type = request.headers.get('content-type') ?? ''
  if (!/[/+]json\b/i.test(type)) return text
  try {
    return JSON.parse(text) as unknown
  } catch {
    // A request that says JSON but is not: the script sees what was sent, as text.
    return text
  }
}

/**
 * The cursor of a request, as the hub reads it: the `Last-Event-ID` header, else the
 * `lastEventId` query parameter; an empty value means none. The header carries the id's
 * UTF-8 bytes (WHATWG HTML §9.2.4), which `Headers` hands over one byte per character, so
 * a non-ASCII id is decoded back. (The hub's own reader lives in `taskwire/server`, which
 * this entry may not import.)
 */
function readLastEventId(header: string | null, url: URL): string | null {
  if (header !== null && header !== '') return decodeHeaderBytes(header)
  const param = url.searchParams.get('lastEventId')
  return param === null || param === '' ? null : param
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function decodeHeaderBytes(value: string): string {
  const bytes = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code > 0xff) return value
    bytes[i] = code
  }
  try {
    return utf8.decode(bytes)
  } catch {
    // Not UTF-8: the bytes as they came are the best reading there is.
    return value
  }
}
