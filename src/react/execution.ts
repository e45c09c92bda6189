import { type ConnectOptions, connect, type HeadersValue, type SharedRun } from '../client/index.js'
import { idleRunSnapshot, type RunSnapshot, runRef } from '../client/shared-run.js'
import { type Catalog, type DefaultCatalog, TaskwireError, TaskwireHttpError } from '../core/index.js'

/** Options of `useExecution`: the start route, its body, and the options of `connect()`. */
export interface UseExecutionOptions<C extends Catalog = DefaultCatalog>
  extends Omit<ConnectOptions<C>, 'method' | 'body' | 'lastEventId'> {
  /**
   * The route that starts a run and answers with its stream: on the server, `startExecution`
   * with the request's `Idempotency-Key`, then `serveNode` (or `serveWeb`) on its stream,
   * with the stream's id in an `X-Execution-Id` header.
   */
  url: string | URL
  /**
   * The HTTP method of the start request.
   * @defaultValue `'POST'`
   */
  method?: string | undefined
  /**
   * The body of a start that is given none (a string, `FormData`, `URLSearchParams`, a
   * `Blob`...: JSON must be a string, with its `content-type` in `headers`). It is sent again
   * with the same key on every reconnect, which attaches to the same run.
   * @defaultValue none
   */
  body?: ConnectOptions<C>['body']
  /**
   * Where `cancel()` sends a DELETE, with `headers`: a URL, or a function of the execution id
   * (`(id) => \`/api/executions/${id}\``).
   * @defaultValue none: `cancel()` only closes the stream, and the run goes on on the server
   */
  cancelUrl?: string | URL | ((executionId: string) => string | URL) | undefined
}

/** A run started by `useExecution`, as one immutable value. */
export interface ExecutionSnapshot extends RunSnapshot {
  /**
   * The id of the execution's stream: the start response's `X-Execution-Id` header, or else
   * the stream named by its events; null until one of them arrived.
   */
  readonly executionId: string | null
}

/** The run of one `start()`: its handle and fold, and the id its response header gave. */
interface Started {
  readonly run: SharedRun<Catalog>
  readonly found: { id: string | null }
}

/** The store behind one `useExecution`: the run of its last `start()`. */
export interface ExecutionStore {
  /**
   * Calls `listener` after the snapshot changed; while it has listeners, the store watches the
   * run of the last start.
   *
   * @param listener - called without arguments
   * @returns a function that removes the listener
   */
  subscribe(listener: () => void): () => void
  /**
   * The snapshot of the last start's run; the same object until it changes.
   *
   * @returns the snapshot
   */
  getSnapshot(): ExecutionSnapshot
  /**
   * The snapshot before any start, for server rendering and hydration.
   *
   * @returns the same object on every call
   */
  getServerSnapshot(): ExecutionSnapshot
  /**
   * Starts one run, with a key of its own.
   *
   * @param body - the request body; the `body` option when absent
   */
  start(body?: ConnectOptions['body']): void
  /**
   * Cancels the last start's run, as `useExecution`'s `cancel` says.
   *
   * @returns resolves once done
   */
  cancel(): Promise<void>
}

const idleExecution: ExecutionSnapshot = /* @__PURE__ */ Object.freeze({
  ...idleRunSnapshot,
  executionId: null,
})

/**
 * A key for one start: a UUID, or, where `crypto.randomUUID` is missing (outside secure
 * contexts: a page on plain HTTP other than localhost), 128 random bits in hex.
 */
const newKey = (): string =>
  typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) =>
        byte.toString(16).padStart(2, '0'),
      ).join('')

/** The headers option as a record, called when it is a function. */
async function headerRecord(
  headers: HeadersValue | (() => HeadersValue | Promise<HeadersValue>) | undefined,
): Promise<Record<string, string>> {
  const value = typeof headers === 'function' ? await headers() : headers
  return Object.fromEntries(new Headers(value))
}

/**
 * Creates the store of one `useExecution`. Creating it does nothing: the first request goes
 * out in `start()`, called from an event handler, never while rendering.
 *
 * @param latest - the hook's options of the last committed render
 * @returns the store
 */
export function createExecutionStore(latest: {
  readonly current: UseExecutionOptions<Catalog>
}): ExecutionStore {
  let started: Started | undefined
  let snapshot = idleExecution
  let detach: (() => void) | undefined
  const listeners = new Set<() => void>()

  // The run snapshot the current one was made from: run snapshots are new objects only when
  // something changed, so identity is the comparison.
  let base: RunSnapshot | undefined
  const refresh = (): void => {
    if (!started) return
    const s = started.run.getSnapshot()
    const executionId = started.found.id ?? s.state.stream
    if (s === base && executionId === snapshot.executionId) return
    base = s
    snapshot = Object.freeze({ ...s, executionId })
    for (const listener of [...listeners]) listener()
  }
  const attach = (): void => {
    detach?.()
    detach = started?.run.subscribe(refresh)
  }

  /** Resolves with the execution id once known, or null if the stream closed before. */
  const idOf = (run: Started): Promise<string | null> =>
    new Promise((resolve) => {
      let settled = false
      const check = (): void => {
        const id = run.found.id ?? run.run.getSnapshot().state.stream
        if (settled || (id === null && run.run.handle.status !== 'closed')) return
        settled = true
        resolve(id)
      }
      check()
      if (settled) return
      let stop: (() => void) | undefined
      // Counts as a subscriber: the stream stays open until the server has named the run.
      stop = run.run.subscribe(() => {
        check()
        if (settled) stop?.()
      })
      if (settled) stop()
    })

  return {
    subscribe(listener) {
      listeners.add(listener)
      if (listeners.size === 1) attach()
      return () => {
        if (!listeners.delete(listener) || listeners.size > 0) return
        detach?.()
        detach = undefined
      }
    },
    getSnapshot: () => snapshot,
    getServerSnapshot: () => idleExecution,
    start(body) {
      const { url, body: defaultBody, cancelUrl, headers, fetch: given, method, ...rest } = latest.current
      // One key per call: every attempt of this start (reconnects included) sends it, so the
      // server runs it once; the next call is a new intent and gets a new key.
      const key = newKey()
      const found: Started['found'] = { id: null }
      const handle = connect(url, {
        ...rest,
        method: method ?? 'POST',
        body: body ?? defaultBody,
        headers: async () => ({ ...(await headerRecord(headers)), 'Idempotency-Key': key }),
        // The handle does not expose response headers; the fetch it calls sees them.
        fetch: async (input, init) => {
          const response = await (given ? given(input, init) : fetch(input, init))
          found.id ??= response.headers.get('x-execution-id')
          return response
        },
      })
      detach?.()
      detach = undefined
      // Watching one run at a time: the previous run goes on on the server unless cancelled.
      started?.run.handle.close()
      started = { run: runRef(handle).acquire(), found }
      if (listeners.size > 0) attach()
      else handle.reconnect() // no view subscribed: send the request now all the same
      refresh()
    },
    async cancel() {
      const run = started
      if (!run) return
      const { cancelUrl, headers, fetch: given, credentials } = latest.current
      if (cancelUrl === undefined) {
        run.run.handle.close()
        return
      }
      const id = await idOf(run)
      if (id === null) return
      const target = String(typeof cancelUrl === 'function' ? cancelUrl(id) : cancelUrl)
      const init: RequestInit = {
        method: 'DELETE',
        headers: await headerRecord(headers),
        credentials: credentials ?? 'same-origin',
      }
      let response: Response
      try {
        response = await (given ? given(target, init) : fetch(target, init))
      } catch (cause) {
        const reason = cause instanceof Error ? cause.message : String(cause)
        throw new TaskwireError('network', `DELETE ${target} failed (${reason}); the run goes on.`, { cause })
      }
      // 404: nothing runs there any more; the run's own terminal event ends the stream.
      if (response.ok || response.status === 404) return
      throw new TaskwireHttpError(
        response.status,
        `DELETE ${target} answered ${response.status}; the run goes on.`,
      )
    },
  }
}
