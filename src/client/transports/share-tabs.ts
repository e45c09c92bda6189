import {
  type EventMessage,
  isSeenEventId,
  TaskwireError,
  type TaskwireErrorCode,
  TaskwireHttpError,
} from '../../core/index.js'
import type { ResolvedConnectOptions } from '../options.js'
import { createSseDecoder } from '../sse-decoder.js'
import type { AttemptOutcome, Transport, TransportRequest, TransportSink } from '../transport.js'
import { fetchTransport } from './fetch.js'

/**
 * The part of the Web Locks API's `LockManager` (`navigator.locks`) that {@link shareTabs}
 * uses.
 *
 * @see https://w3c.github.io/web-locks/#lockmanager
 */
export interface LockManagerLike {
  /**
   * Waits for the lock of a name and holds it until the callback's promise settles.
   *
   * @param name - the lock's name, shared by every tab of an origin
   * @param options - a signal that withdraws the request while it waits
   * @param callback - called once the lock is granted
   * @returns settles once the lock is released; rejects when the signal aborts first
   */
  request(
    name: string,
    options: { signal?: AbortSignal },
    callback: (lock: unknown) => Promise<void>,
  ): Promise<unknown>
}

/** The part of a `BroadcastChannel` that {@link shareTabs} uses. */
export interface BroadcastChannelLike {
  /**
   * Sends a message to every other channel of the same name in the origin.
   *
   * @param message - a structured-clonable value
   */
  postMessage(message: unknown): void
  /**
   * Listens to the messages of the other channels.
   *
   * @param type - `message`
   * @param listener - receives each message in `event.data`
   */
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  /** Stops sending and receiving. */
  close(): void
}

/** A `BroadcastChannel` constructor: the browser's global one fits. */
export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike

/** Options of {@link shareTabs}. Every field is optional. */
export interface ShareTabsOptions {
  /**
   * Tabs share a connection when they read the same URL with the same method; give a key
   * when the stream's identity also lies in headers or a body (the user a token names, say),
   * so that tabs with different keys never share.
   * @defaultValue none
   */
  key?: string | undefined
  /**
   * How many messages the leader keeps for tabs that join after its connection opened: a
   * joining tab whose last event id is older than these opens a connection of its own until
   * it has caught up.
   * @defaultValue `1000`
   */
  bufferSize?: number | undefined
  /**
   * The Web Locks `LockManager` that elects the leader. Without one the tab connects alone.
   * @defaultValue `navigator.locks`
   */
  locks?: LockManagerLike | undefined
  /**
   * The `BroadcastChannel` constructor the leader relays through. Without one the tab
   * connects alone.
   * @defaultValue `globalThis.BroadcastChannel`
   */
  BroadcastChannel?: BroadcastChannelConstructor | undefined
}

const DEFAULT_SHARE_TABS = { bufferSize: 1000 }

/** The messages, with a version so that tabs of two deployments of an app never talk. */
const PREFIX = 'taskwire/share-tabs/1'

/** An error as it crosses the channel: structured clone keeps neither its class nor its code. */
interface WireError {
  code: TaskwireErrorCode
  message: string
  status?: number | undefined
  retryAfterMs?: number | undefined
}

/** What the leader's connection delivered, in a form every tab can replay into its sink. */
type Entry =
  /** SSE blocks the leader decoded from a text transport, written back as text. */
  | { t: 'text'; text: string; id?: string | undefined }
  /** A message a transport delivered parsed (EventSource). */
  | { t: 'message'; message: EventMessage }

/** What the leader relays, in order. */
type Relay =
  | Entry
  | { t: 'open' }
  | { t: 'activity' }
  | { t: 'idle' }
  | {
      t: 'end'
      type: AttemptOutcome['type']
      retryAfterMs?: number | undefined
      error?: WireError | undefined
    }

/** Every message on the channel. */
type Note =
  | Relay
  /** A tab asks the leader for what came after its cursor. */
  | { t: 'hello'; from: string; after: string | null }
  /** The leader's answer: `entries` is null when its buffer does not reach back that far. */
  | { t: 'welcome'; to: string; entries: Entry[] | null; open: boolean; idle: boolean }
  /** A tab took the lock: tabs still waiting for a welcome ask again. */
  | { t: 'leader' }

/**
 * Shares one connection between the tabs of an origin that read the same stream. Browsers
 * open about 6 HTTP/1.1 connections per origin, so ten tabs of a dashboard would starve each
 * other; with this transport the tabs elect a leader through the Web Locks API, only the
 * leader connects (over `inner`), and it relays what arrives to the others over a
 * `BroadcastChannel`. A tab that joins late gets what it missed from the leader's buffer.
 * When the leader's tab closes (or its stream handle does), the next tab takes the lock and
 * connects at once, resuming after its own last event id: the server replays what it lacks
 * and the client drops what it already has, so no event is missed or doubled. A done, retry
 * or fatal end of the leader's connection (a terminal 204, a drop, a 401) ends every tab's
 * attempt the same way.
 *
 * Where `navigator.locks` or `BroadcastChannel` is missing (an insecure origin, Node without
 * them), each tab connects through `inner` alone, exactly as without this transport.
 *
 * @param inner - how the leader connects
 * @param options - a key for streams whose identity is in headers, the buffer's size, and
 *   the platform objects
 * @returns the transport, for `connect()`'s `transport` option
 * @throws {@link taskwire!TaskwireError} `invalid-option` for a `bufferSize` below 0
 * @see https://w3c.github.io/web-locks/
 * @see https://html.spec.whatwg.org/multipage/web-messaging.html#broadcasting-to-other-browsing-contexts
 * @example
 * ```ts
 * import { connect, fetchTransport, shareTabs } from 'taskwire/client'
 *
 * const stream = connect('/api/jobs/7/events', { transport: shareTabs(fetchTransport) })
 * stream.on('*', (event) => console.log(event.type))
 * ```
 */
export function shareTabs(inner: Transport = fetchTransport, options: ShareTabsOptions = {}): Transport {
  const global = globalThis as { navigator?: { locks?: LockManagerLike } }
  const share: Share = {
    inner,
    key: options.key,
    bufferSize: options.bufferSize ?? DEFAULT_SHARE_TABS.bufferSize,
    locks: options.locks ?? global.navigator?.locks,
    Channel:
      options.BroadcastChannel ?? (globalThis.BroadcastChannel as BroadcastChannelConstructor | undefined),
  }
  if (!(share.bufferSize >= 0)) throw new TaskwireError('invalid-option', 'bufferSize must be >= 0.')
  return {
    name: `share-tabs(${inner.name})`,
    check: (resolved) => inner.check(resolved),
    open: (request, sink, resolved) => openShared(share, request, sink, resolved),
  }
}

/** {@link ShareTabsOptions} resolved, with the inner transport. */
interface Share {
  inner: Transport
  key: string | undefined
  bufferSize: number
  locks: LockManagerLike | undefined
  Channel: BroadcastChannelConstructor | undefined
}

/**
 * One attempt of a tab. It starts `waiting` (it asked for the lock and said hello), becomes
 * `following` once the leader welcomed it, `own` when the leader's buffer cannot bring it
 * up to date (it connects itself until it has caught up with the leader's relays), and
 * `leading` once it holds the lock.
 */
function openShared(
  share: Share,
  request: TransportRequest,
  sink: TransportSink,
  o: ResolvedConnectOptions,
): void {
  const { inner, locks, Channel } = share
  const signal = request.signal
  const name = `${PREFIX} ${o.method} ${absolute(request.url)}${share.key === undefined ? '' : ` ${share.key}`}`
  let channel: BroadcastChannelLike | undefined
  try {
    if (locks && Channel && !signal.aborted) channel = new Channel(name)
  } catch {
    // An opaque origin (a sandboxed frame) may refuse channels: the tab then connects alone.
  }
  if (!locks || !channel) {
    inner.open(request, sink, o)
    return
  }
  const bus = channel

  const me = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  let role: 'waiting' | 'following' | 'own' | 'leading' = 'waiting'
  let opened = false
  let held: Relay[] = []
  let connection: AbortController | undefined
  let alone = false
  let release = (): void => {}
  // The leader's record, for tabs that join: what its connection delivered since the cursor
  // `base`, and whether it is open and idle now.
  let buffer: Entry[] = []
  let base: string | null = null
  let live = { open: false, idle: false }

  const post = (note: Note): void => {
    if (!alone && !signal.aborted) bus.postMessage(note)
  }
  const relay = (note: Relay): void => {
    if (role !== 'leading') return
    if (note.t === 'text' || note.t === 'message') {
      buffer.push(note)
      const dropped = buffer.length > share.bufferSize ? buffer.shift() : undefined
      const cursor = dropped && cursorAfter(dropped)
      if (cursor !== undefined) base = cursor
    }
    post(note)
  }
  const open = (): void => {
    if (opened) return
    opened = true
    sink.open()
  }
  const apply = (note: Relay): void => {
    if (note.t === 'text') sink.text(note.text)
    else if (note.t === 'message') sink.message(note.message)
    else if (note.t === 'open') open()
    else if (note.t === 'activity') sink.activity()
    else if (note.t === 'idle') sink.idle()
    else sink.end(fromWire(note))
  }

  /** Opens `inner` for this tab; what it delivers goes to the sink, and to the others while leading. */
  const connectInner = (): void => {
    const controller = new AbortController()
    connection = controller
    live = { open: false, idle: false }
    const stopped = (): boolean => controller.signal.aborted
    // The sink receives text in any chunking; the others get whole blocks, so that a tab that
    // joins or takes over starts at a block boundary.
    const decoder = createSseDecoder(
      {
        onEvent: (message) => relay({ t: 'text', text: toFrame(message), id: message.id }),
        onId: (id) => relay({ t: 'text', text: `id: ${id}\n\n`, id }),
        onRetry: (ms) => relay({ t: 'text', text: `retry: ${ms}\n\n` }),
        onComment: () => relay({ t: 'activity' }),
      },
      { maxEventChars: o.maxEventChars },
    )
    const pulse = (t: 'open' | 'activity' | 'idle'): void => {
      live = { open: live.open || t === 'open', idle: t === 'idle' }
      relay({ t })
    }
    const innerRequest: TransportRequest = {
      url: request.url,
      lastEventId: () => request.lastEventId(),
      headers: () => request.headers(),
      signal: controller.signal,
    }
    // The session turns a throw from open() into a fatal end; this call runs later (from the
    // lock's callback or a message), out of the session's reach, so it does the same itself.
    try {
      // Each relay goes out before the sink sees it: the sink may close the handle (a terminal
      // event), and the other tabs must still get what made it close.
      inner.open(
        innerRequest,
        {
          open() {
            if (stopped()) return
            pulse('open')
            open()
          },
          activity() {
            if (stopped()) return
            pulse('activity')
            sink.activity()
          },
          idle() {
            if (stopped()) return
            pulse('idle')
            sink.idle()
          },
          text(chunk) {
            if (stopped()) return
            live.idle = false
            decoder.feed(chunk)
            sink.text(chunk)
          },
          message(message) {
            if (stopped()) return
            relay({ t: 'message', message })
            sink.message(message)
          },
          end(outcome) {
            if (stopped()) return
            relay({ t: 'end', ...toWire(outcome) })
            sink.end(outcome)
          },
        },
        o,
      )
    } catch (thrown) {
      const error = new TaskwireError('invalid-option', `The transport failed: ${String(thrown)}`, {
        cause: thrown,
      })
      sink.end({ type: 'fatal', error })
    }
  }

  const lead = (): Promise<void> =>
    // The lock is held until the attempt ends (closing the tab releases it too); `release` is
    // set first, as connecting may end the attempt at once.
    new Promise((resolve) => {
      release = resolve
      if (signal.aborted) return resolve()
      const was = role
      role = 'leading'
      held = []
      buffer = []
      base = request.lastEventId()
      post({ t: 'leader' })
      // A tab on its own connection keeps it; any other connects now, after its own cursor.
      if (was !== 'own') connectInner()
    })

  /** Connects this tab itself, until it catches up with the leader's relays. */
  const fallBack = (): void => {
    role = 'own'
    held = []
    connectInner()
  }

  const welcome = (to: string, after: string | null): void => {
    let from = after === base ? 0 : -1
    for (let i = buffer.length - 1; from < 0 && i >= 0; i--) {
      if (cursorAfter(buffer[i] as Entry) === after) from = i + 1
    }
    post({
      t: 'welcome',
      to,
      entries: from < 0 ? null : buffer.slice(from),
      open: live.open,
      idle: live.idle,
    })
  }

  const onNote = (event: { data: unknown }): void => {
    const note = event.data as Note
    if (role === 'leading') {
      if (note.t === 'hello') welcome(note.from, note.after)
    } else if (role === 'own') {
      // Caught up once the leader relays an event this tab already has: from there its
      // relays continue this tab's stream, so the tab's own connection can go.
      const cursor = isEntry(note) ? cursorAfter(note) : undefined
      if (cursor && isSeenEventId(cursor, request.lastEventId())) {
        connection?.abort()
        role = 'following'
        open()
      }
    } else if (role === 'following') {
      if (isRelay(note)) apply(note)
    } else if (note.t === 'welcome') {
      if (note.to !== me) return
      if (note.entries === null) {
        fallBack()
        return
      }
      role = 'following'
      if (note.open) open()
      for (const entry of note.entries) apply(entry)
      if (note.idle) sink.idle()
      // What the leader relayed between the hello and its answer: duplicates are dropped by id.
      for (const relayed of held) apply(relayed)
      held = []
    } else if (note.t === 'leader') {
      post({ t: 'hello', from: me, after: request.lastEventId() })
    } else if (note.t === 'end') {
      apply(note)
    } else if (isRelay(note)) {
      // Kept for after the welcome. A waiting tab has not opened, so its open timeout bounds
      // how long it holds them.
      held.push(note)
    }
  }

  bus.addEventListener('message', onNote)
  const detach = (): void => {
    if (alone) return
    alone = true
    bus.close()
  }
  signal.addEventListener(
    'abort',
    () => {
      connection?.abort()
      release()
      detach()
    },
    { once: true },
  )
  post({ t: 'hello', from: me, after: request.lastEventId() })
  locks.request(name, { signal }, lead).catch(() => {
    if (signal.aborted) return
    // The lock manager refused (a frame without storage access): connect alone.
    detach()
    const connected = role === 'own'
    role = 'own'
    if (!connected) connectInner()
  })
}

const isRelay = (note: Note): note is Relay =>
  note.t !== 'hello' && note.t !== 'welcome' && note.t !== 'leader'

const isEntry = (note: Note): note is Entry => note.t === 'text' || note.t === 'message'

/** The last event id after an entry, or undefined when it carries none (WHATWG §9.2.6: empty clears it). */
function cursorAfter(entry: Entry): string | null | undefined {
  const id = entry.t === 'text' ? entry.id : entry.message.id
  return id === '' ? null : id
}

/** An SSE block for a decoded message: each line of its data on a `data:` line of its own. */
function toFrame(message: EventMessage): string {
  const event = message.event ? `event: ${message.event}\n` : ''
  const id = message.id === undefined ? '' : `id: ${message.id}\n`
  return `${event}${id}data: ${message.data.replace(/\n/g, '\ndata: ')}\n\n`
}

function toWire(outcome: AttemptOutcome): Omit<Extract<Relay, { t: 'end' }>, 't'> {
  if (outcome.type === 'done') return { type: 'done' }
  const error = outcome.error
  return {
    type: outcome.type,
    retryAfterMs: outcome.type === 'retry' ? outcome.retryAfterMs : undefined,
    error: error && {
      code: error.code,
      message: error.message,
      status: (error as Partial<TaskwireHttpError>).status,
      retryAfterMs: (error as Partial<TaskwireHttpError>).retryAfterMs,
    },
  }
}

function fromWire(wire: Extract<Relay, { t: 'end' }>): AttemptOutcome {
  const e = wire.error
  const error =
    e &&
    (e.status === undefined
      ? new TaskwireError(e.code, e.message)
      : new TaskwireHttpError(e.status, e.message, { code: e.code, retryAfterMs: e.retryAfterMs }))
  if (wire.type === 'fatal' && error) return { type: 'fatal', error }
  if (wire.type === 'retry') return { type: 'retry', error, retryAfterMs: wire.retryAfterMs }
  return { type: 'done' }
}

/** The URL resolved against the page, so that `/a` and `https://host/a` name one stream. */
function absolute(url: string): string {
  try {
    return new URL(url, (globalThis as { location?: { href: string } }).location?.href).href
  } catch {
    return url
  }
}
