import { HttpHandler, type Path } from 'msw'
import { type Catalog, type DefaultCatalog, defaultCatalog, TaskwireError } from '../core/index.js'
import { type ConnectionLog, createConnectionLog } from './connection-log.js'
import { controllerOf } from './controller.js'
import { createIdSequence, type IdSequence } from './id-sequence.js'
import { readStreamInfo } from './stream-info.js'
import type { SseHandlerOptions, StreamConnection, StreamInfo, StreamScript } from './types.js'
import { createConnection } from './wire.js'

/**
 * An msw request handler that answers with a scripted taskwire stream. Give it to
 * `setupServer` (Node) or `setupWorker` (browsers) like any other handler; it also keeps the
 * connections it served, for assertions.
 */
export interface SseHandler<C extends Catalog = DefaultCatalog> extends HttpHandler {
  /** Every request the handler answered, in order; each record is updated as it runs. */
  readonly connections: readonly StreamConnection<C>[]
  /**
   * The cursor each request carried, in order: `[null, '1-2']` for a fresh connection and a
   * resume after `1-2`.
   *
   * @returns one entry per request
   */
  lastEventIds(): (string | null)[]
  /**
   * Waits for a request.
   *
   * @param attempt - its number, from 1
   * @returns the connection, once its request has come
   */
  waitForConnection(attempt: number): Promise<StreamConnection<C>>
  /**
   * Starts over, as a new handler would: forgets the connections, and attempts and ids count
   * from 1 again. For a handler shared by several tests (call it in `afterEach`).
   */
  clear(): void
}

/** {@link sseHandler} with the catalog set, as `sseHandler.for(catalog)` returns it. */
export type SseHandlerFactory<C extends Catalog> = (
  method: string,
  path: Path,
  script: StreamScript<C>,
  options?: Omit<SseHandlerOptions<C>, 'catalog'>,
) => SseHandler<C>

/** The type of {@link sseHandler}: the function and its `for`. */
export interface SseHandlerFunction {
  /**
   * Makes a handler that answers `method` requests to `path` with a scripted stream.
   *
   * @param method - the HTTP method: `GET` for EventSource and plain fetch, `POST` for a
   *   stream that starts a run
   * @param path - the path or URL to match, as msw matches it (`/api/jobs/:id/events`,
   *   `https://api.test/events`, a RegExp)
   * @param script - what each request gets
   * @param options - the catalog, the id epoch, the stream name, where script errors go
   * @returns the handler
   */
  <C extends Catalog = DefaultCatalog>(
    method: string,
    path: Path,
    script: StreamScript<C>,
    options?: SseHandlerOptions<C>,
  ): SseHandler<C>
  /**
   * Binds a catalog: the handlers made by the function returned type `send()` by it and
   * validate against it.
   *
   * @param catalog - the catalog
   * @returns `sseHandler` with that catalog
   */
  for<C extends Catalog>(catalog: C): SseHandlerFactory<C>
}

/** What a handler keeps between requests. */
interface HandlerState {
  readonly log: ConnectionLog
  readonly ids: IdSequence
  readonly store: Map<symbol, unknown>
}

class ScriptedStreamHandler<C extends Catalog> extends HttpHandler implements SseHandler<C> {
  readonly #state: HandlerState

  constructor(method: string, path: Path, script: StreamScript<C>, options: SseHandlerOptions<C>) {
    const epoch = String(options.epoch ?? 1)
    if (!/^\d{1,15}$/.test(epoch)) {
      // Ids of the form <digits>-<digits> are the ones clients order; any other never compares.
      throw new TaskwireError(
        'invalid-option',
        `epoch must be up to 15 digits, got ${JSON.stringify(epoch)}.`,
      )
    }
    const state: HandlerState = {
      log: createConnectionLog(),
      ids: createIdSequence(epoch.replace(/^0+(?=\d)/, '')),
      store: new Map(),
    }
    const catalog: Catalog = options.catalog ?? defaultCatalog
    const onError = options.onError ?? ((error: unknown) => console.error('[taskwire/msw]', error))
    super(method.toUpperCase(), path, async ({ request, params }) => {
      const attempt = state.log.nextAttempt()
      const info = await readStreamInfo(request, params as StreamInfo['params'], attempt, options.stream)
      const record = { attempt, request, lastEventId: info.lastEventId, status: null, events: [], end: null }
      state.log.add(record)
      const connection = createConnection({
        info,
        catalog,
        ids: state.ids,
        store: state.store,
        record,
        onError,
      })
      const controller = controllerOf<C>(connection.wire)
      void (async () => script(info, controller))().then(
        () => connection.scriptEnded(),
        (error: unknown) => connection.scriptFailed(error),
      )
      return connection.response
    })
    this.#state = state
  }

  get connections(): readonly StreamConnection<C>[] {
    return this.#state.log.connections as readonly StreamConnection<C>[]
  }

  lastEventIds(): (string | null)[] {
    return this.#state.log.connections.map((connection) => connection.lastEventId)
  }

  waitForConnection(attempt: number): Promise<StreamConnection<C>> {
    return this.#state.log.waitFor(attempt) as Promise<StreamConnection<C>>
  }

  clear(): void {
    this.#state.log.clear()
    this.#state.ids.reset()
    this.#state.store.clear()
  }

  /**
   * Logs a request as msw does (in the browser), without reading a stream's body: msw hands
   * over a copy of the response, and a copy left unread would keep the stream alive after the
   * client cancels it and hold every frame in memory.
   */
  override async log(args: { request: Request; response: Response }): Promise<void> {
    const type = args.response.headers.get('content-type') ?? ''
    if (!type.startsWith('text/event-stream')) return super.log(args)
    args.response.body?.cancel().catch(() => {
      // A copy for logging only: nothing depends on its cancel.
    })
    const placeholder = new Response('[taskwire stream]', {
      status: args.response.status,
      headers: args.response.headers,
    })
    return super.log({ ...args, response: placeholder })
  }
}

/** The call signature of {@link sseHandler}. */
function createSseHandler<C extends Catalog = DefaultCatalog>(
  method: string,
  path: Path,
  script: StreamScript<C>,
  options: SseHandlerOptions<C> = {},
): SseHandler<C> {
  return new ScriptedStreamHandler<C>(method, path, script, options)
}

/**
 * Makes an msw handler that answers with a scripted taskwire stream: GET or POST, over fetch
 * streaming or EventSource, in Node (`setupServer`) and in browsers (`setupWorker`). The
 * script runs once per request with the request's info and a controller that sends catalog
 * events (ids `<epoch>-<seq>` counting on across attempts), raw frames, comments and
 * `retry:`, waits, drops or closes the connection, or answers a status.
 *
 * `sseHandler.for(catalog)` binds a catalog, so `send()` is typed and validated by it.
 *
 * @example
 * ```ts
 * import { setupServer } from 'msw/node'
 * import { sseHandler } from 'taskwire/msw'
 *
 * const events = sseHandler('GET', 'https://api.test/jobs/:id/events', async (info, stream) => {
 *   if (info.attempt === 1) {
 *     await stream.send('run.started', {})
 *     await stream.send('task.created', { taskId: 't1', title: 'Build' })
 *     return stream.drop() // the client reconnects with Last-Event-ID: 1-2
 *   }
 *   await stream.send('task.completed', { taskId: 't1' })
 *   await stream.send('run.completed', {})
 * })
 * const server = setupServer(events)
 * ```
 */
export const sseHandler: SseHandlerFunction = Object.assign(createSseHandler, {
  for<C extends Catalog>(catalog: C): SseHandlerFactory<C> {
    return (method, path, script, options = {}) =>
      new ScriptedStreamHandler<C>(method, path, script, { ...options, catalog })
  },
})
