import { type SetupServer, setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll } from 'vitest'

/** The origin every handler of these suites answers on; nothing listens there. */
export const ORIGIN = 'https://api.test'

/**
 * An msw server for a suite: it listens for the whole file, fails on a request no handler
 * answers, and drops the handlers a test added with `use()` after it.
 *
 * @returns the server
 */
export function mswServer(): SetupServer {
  const server = setupServer()
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
  afterEach(() => server.resetHandlers())
  afterAll(() => server.close())
  return server
}

/**
 * Reads a response body as text until it ends, or until `enough` says so (then cancels it).
 * Bounded by a count of chunks so a stream that never ends fails the test instead of hanging.
 *
 * @param response - the response
 * @param enough - stops reading once the text read so far satisfies it
 * @returns the text read
 */
export async function readText(response: Response, enough?: (text: string) => boolean): Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  for (let chunks = 0; chunks < 10_000; chunks++) {
    if (enough?.(text)) {
      // Not awaited: msw keeps a copy of a mocked body, and a copy's cancel settles only once
      // every copy is cancelled.
      reader.cancel().catch(() => {})
      return text
    }
    const { done, value } = await reader.read()
    if (done) return text + decoder.decode()
    text += decoder.decode(value, { stream: true })
  }
  throw new Error(`readText: still reading after 10000 chunks: ${text.slice(0, 200)}`)
}

/** Counts the blank lines that end frames: how many frames a text holds. */
export function frameCount(text: string): number {
  return text.split('\n\n').length - 1
}
