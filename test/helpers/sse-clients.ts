import { EventSource } from 'eventsource'
import type { Browser, BrowserContext } from 'playwright-core'
import { Inbox } from './inbox.js'
import { readSse } from './sse-reader.js'

/** What a client reports, whatever it is (fetch, the eventsource package, Chromium). */
export type ClientReport =
  | { kind: 'open' }
  | { kind: 'event'; type: string; id: string; data: string }
  | { kind: 'error'; readyState: number }

/** `EventSource.readyState` values (WHATWG HTML §9.2.2). */
export const READY_STATE = { CONNECTING: 0, OPEN: 1, CLOSED: 2 } as const

/** A client under test: it connects, reports into `inbox`, and tells its ready state. */
export interface SseClient {
  readonly name: string
  readonly inbox: Inbox<ClientReport>
  /** Connects to `url` (absolute). */
  open(url: string): Promise<void>
  readyState(): Promise<number>
  close(): Promise<void>
}

/** The event types the clients listen to by name (named framing). */
export const LISTENED_TYPES: readonly string[] = [
  'stream.snapshot',
  'stream.reset',
  'run.started',
  'run.completed',
  'task.created',
  'task.status',
]

/**
 * A client on fetch and eventsource-parser that behaves like EventSource where the tests
 * look: it reconnects at once after an error or the end of the body, sending
 * `Last-Event-ID`, and stops for good on 204 (at most 10 reconnects).
 *
 * @returns the client
 */
export function fetchClient(): SseClient {
  const inbox = new Inbox<ClientReport>()
  let state: number = READY_STATE.CONNECTING
  let lastId: string | null = null
  const controller = new AbortController()
  let reconnects = 0

  const connect = async (url: string): Promise<void> => {
    state = READY_STATE.CONNECTING
    let response: Response
    try {
      response = await fetch(url, {
        headers: lastId === null ? {} : { 'Last-Event-ID': lastId },
        signal: controller.signal,
      })
    } catch {
      return fail(url)
    }
    if (response.status !== 200) {
      // WHATWG HTML §9.2.3: any status but 200 (204 included) fails the connection for good.
      state = READY_STATE.CLOSED
      inbox.push({ kind: 'error', readyState: state })
      return
    }
    state = READY_STATE.OPEN
    inbox.push({ kind: 'open' })
    const reader = readSse(response)
    let seen = 0
    const drain = (): void => {
      for (const event of reader.log.events.slice(seen)) {
        if (event.id !== undefined) lastId = event.id
        inbox.push({ kind: 'event', type: event.event ?? 'message', id: event.id ?? '', data: event.data })
      }
      seen = reader.log.events.length
    }
    try {
      await reader.until((log) => {
        if (log.events.length > seen) drain()
        return log.ended
      })
    } catch {
      // The connection dropped (the server destroyed the socket): report and reconnect.
    }
    drain()
    return fail(url)
  }

  const fail = (url: string): Promise<void> | undefined => {
    if (controller.signal.aborted || state === READY_STATE.CLOSED) return
    state = READY_STATE.CONNECTING
    inbox.push({ kind: 'error', readyState: state })
    if (++reconnects > 10) {
      state = READY_STATE.CLOSED
      return
    }
    return connect(url)
  }

  return {
    name: 'fetch',
    inbox,
    async open(url) {
      void connect(url)
    },
    async readyState() {
      return state
    },
    async close() {
      state = READY_STATE.CLOSED
      controller.abort()
    },
  }
}

/**
 * A client on the `eventsource` npm package (v4), the EventSource Node apps use.
 *
 * @returns the client
 */
export function eventSourcePackageClient(): SseClient {
  const inbox = new Inbox<ClientReport>()
  let source: EventSource | undefined
  return {
    name: 'eventsource',
    inbox,
    async open(url) {
      source = new EventSource(url)
      const onEvent = (event: MessageEvent<string>): void => {
        inbox.push({ kind: 'event', type: event.type, id: event.lastEventId, data: event.data })
      }
      for (const type of LISTENED_TYPES) source.addEventListener(type, onEvent)
      source.onmessage = onEvent
      source.onopen = () => inbox.push({ kind: 'open' })
      source.onerror = () => inbox.push({ kind: 'error', readyState: source?.readyState ?? -1 })
    },
    async readyState() {
      return source?.readyState ?? -1
    },
    async close() {
      source?.close()
    },
  }
}

/**
 * A client on Chromium's native EventSource, opened in a blank page served from `pageUrl`
 * (same origin as the stream), reporting back through an exposed function.
 *
 * @param browser - a launched Chromium
 * @param pageUrl - the blank page's absolute URL
 * @returns the client
 */
export function chromiumClient(browser: Browser, pageUrl: string): SseClient {
  const inbox = new Inbox<ClientReport>()
  let context: BrowserContext | undefined
  let page: Awaited<ReturnType<BrowserContext['newPage']>> | undefined
  return {
    name: 'chromium',
    inbox,
    async open(url) {
      context = await browser.newContext()
      page = await context.newPage()
      await page.exposeFunction('taskwireReport', (report: ClientReport) => inbox.push(report))
      await page.goto(pageUrl)
      await page.evaluate(
        ({ url, types }) => {
          const page = window as unknown as {
            taskwireReport: (r: unknown) => void
            EventSource: typeof EventSource
          }
          const report = page.taskwireReport
          // Through window: this module imports the eventsource package under the same name.
          const source = new page.EventSource(url)
          ;(window as unknown as { source: EventSource }).source = source
          const onEvent = (event: MessageEvent<string>): void =>
            report({ kind: 'event', type: event.type, id: event.lastEventId, data: event.data })
          for (const type of types) source.addEventListener(type, onEvent)
          source.onmessage = onEvent
          source.onopen = () => report({ kind: 'open' })
          source.onerror = () => report({ kind: 'error', readyState: source.readyState })
        },
        { url, types: LISTENED_TYPES },
      )
    },
    async readyState() {
      return page ? page.evaluate(() => (window as unknown as { source: EventSource }).source.readyState) : -1
    },
    async close() {
      await context?.close()
    },
  }
}

/**
 * The events a client received, as `[id, type]` pairs.
 *
 * @param inbox - the client's inbox
 * @returns the pairs, in arrival order
 */
export function receivedIds(inbox: Inbox<ClientReport>): [string, string][] {
  return inbox.items.flatMap((item) =>
    item.kind === 'event' ? [[item.id, item.type] as [string, string]] : [],
  )
}
