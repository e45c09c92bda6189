import {
  type Catalog,
  type DefaultCatalog,
  type Envelope,
  type EventInput,
  type EventOf,
  type EventType,
  isTerminalEventType,
  type RunStatus,
  TaskwireError,
} from '../core/index.js'
import type { AnyHub, Hub } from './types.js'

/** What a run receives: how to emit its events, when to stop, and its stream. */
export interface ExecutionContext<C extends Catalog = DefaultCatalog> {
  /**
   * Publishes an event on the execution's stream, after every event emitted before it.
   *
   * @param type - the event type
   * @param data - the payload
   * @returns the envelope as stored
   * @throws {@link taskwire!TaskwireValidationError} when the event does not match the catalog
   * @throws {@link taskwire!TaskwireError} `aborted` once the execution was cancelled, and
   *   `stream-closed` after a terminal event
   */
  emit<T extends EventType<C>>(type: T, data: EventInput<C, T>): Promise<EventOf<C, T>>
  /** Aborted when the execution is cancelled; pass it to fetch calls and timers. */
  signal: AbortSignal
  /** The stream the events go to. */
  stream: string
}

/** The `data` of the `run.started` event the runner publishes. */
export type RunStartedData = EventInput<DefaultCatalog, 'run.started'>

/** Options of {@link startExecution}. */
export interface StartExecutionOptions<C extends Catalog = DefaultCatalog, R = unknown> {
  /**
   * The stream the run publishes to. While an execution runs on it, starting another
   * there returns the running one.
   * @defaultValue a random UUID
   */
  stream?: string | undefined
  /**
   * A key the client repeats for the same intent (an `Idempotency-Key` header): a start
   * with a key of the same `scope` returns that scope's execution, `created: false`,
   * instead of starting a second run, while it runs and for `idempotencyTtlMs` after it
   * ended. Past that window the key is forgotten and the same key starts a new run: a
   * client sends a fresh key for each new intent.
   * @defaultValue none: every start is new
   */
  idempotencyKey?: string | undefined
  /**
   * Who starts the execution: the key `hub.authorize()` named for the caller (`{ ok: true,
   * key }`), or a user or API key id of your own. Idempotency keys are looked up within
   * the scope, so another caller's `Idempotency-Key` never returns this execution, and
   * {@link cancelExecution} cancels it only when given the same scope.
   * @defaultValue none: the key is shared with every start without a scope, and any
   *   {@link cancelExecution} of the stream may cancel the execution
   */
  scope?: string | undefined
  /**
   * The work. It runs detached from any HTTP response, so it continues when every viewer
   * has gone. Its resolved value becomes `run.completed`'s `output`; a throw becomes
   * `run.failed`. Emitting a terminal event (`run.completed`, `run.failed`,
   * `run.cancelled`) itself ends the stream there, and no other terminal event follows.
   *
   * @param context - `emit`, `signal` and `stream`
   * @returns the run's output
   */
  run: (context: ExecutionContext<C>) => R | Promise<R>
  /**
   * Cancels the execution when aborted, as {@link Execution.cancel} does.
   * @defaultValue none
   */
  signal?: AbortSignal | undefined
  /**
   * The payload of the `run.started` event published before `run` is called (execution
   * id, workflow id, the nodes to come). `false` publishes none: the run emits its own.
   * @defaultValue `{}`
   */
  started?: RunStartedData | false | undefined
  /**
   * How long a finished execution's idempotency key keeps answering with it, in
   * milliseconds, counted from its terminal event; after that a start with the key starts
   * a new run. A running execution's key always answers with it.
   * @defaultValue `600_000` (10 minutes)
   */
  idempotencyTtlMs?: number | undefined
  /**
   * Receives the error that rejects `done` (a terminal event that could not be published),
   * so a start nobody awaits never becomes an unhandled rejection.
   * @defaultValue logs with `console.error`
   */
  onError?: ((error: unknown) => void) | undefined
  /**
   * The clock for the idempotency window, in epoch milliseconds.
   * @defaultValue `Date.now`
   */
  now?: (() => number) | undefined
}

/** The defaults of {@link StartExecutionOptions}. */
export const DEFAULT_EXECUTION_OPTIONS: Readonly<{
  [K in 'started' | 'idempotencyTtlMs' | 'onError' | 'now']-?: Exclude<StartExecutionOptions[K], undefined>
}> = Object.freeze({
  started: Object.freeze({}),
  idempotencyTtlMs: 10 * 60_000,
  onError: (error: unknown) => console.error(error),
  now: () => Date.now(),
})

/** A run started by {@link startExecution}. */
export interface Execution {
  /** The stream its events go to; serve it to viewers. */
  readonly stream: string
  /** False when an earlier start with the same idempotency key (or stream) was returned. */
  readonly created: boolean
  /**
   * Resolves with how the run ended once its terminal event is published.
   * Rejects when that event could not be published (a broker outage, a closed hub) or when
   * `run.started` could not be; the error also goes to `onError`.
   */
  readonly done: Promise<RunStatus>
  /** Aborted when the execution is cancelled. */
  readonly signal: AbortSignal
  /**
   * Aborts the run's signal and publishes `run.cancelled`; does nothing once the run ended.
   * A rejection of `run` after this is the expected effect of the abort, not reported.
   *
   * @param reason - why, sent in `run.cancelled`
   * @returns resolves when `run.cancelled` is published (or the run had already ended)
   */
  cancel(reason?: string): Promise<void>
}

/** Options of {@link cancelExecution}. */
export interface CancelExecutionOptions {
  /**
   * Who asks: the key `hub.authorize()` named for the caller at the `cancel` door. An
   * execution started with a `scope` is cancelled only by the same scope.
   * @defaultValue none: cancels only executions started without a scope
   */
  scope?: string | undefined
  /**
   * Why, sent in `run.cancelled`.
   * @defaultValue none
   */
  reason?: string | undefined
}

interface ExecutionRecord {
  execution: Execution
  scope: string | undefined
  ttlMs: number
  finishedAtMs: number | undefined
}

interface Registry {
  /** Keyed by scope and idempotency key (see `scopedKey`). */
  byKey: Map<string, ExecutionRecord>
  /** The executions still running, by stream. */
  byStream: Map<string, ExecutionRecord>
  lastSweepMs: number
  /** Set by {@link settleExecutions}: the hub is shutting down and starts no new run. */
  closing: boolean
}

const registries = new WeakMap<object, Registry>()

const registryOf = (hub: object): Registry => {
  let registry = registries.get(hub)
  if (!registry) {
    registry = {
      byKey: new Map(),
      byStream: new Map(),
      lastSweepMs: Number.NEGATIVE_INFINITY,
      closing: false,
    }
    registries.set(hub, registry)
  }
  return registry
}

const STATUS_OF_TERMINAL: Readonly<Record<string, RunStatus>> = {
  'run.completed': 'completed',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
}

type UntypedPublish = (stream: string, type: string, data: unknown) => Promise<Envelope>

/**
 * Starts a run detached from the request that asked for it (an agent team's run, a flow execution): its events go
 * through the hub, so the client that started it, a reconnecting client and any other
 * viewer see one stream, and the run goes on when they all disconnect.
 *
 * The runner publishes `run.started` (unless `started: false`), then calls `run`; when it
 * resolves, `run.completed` with its output; when it throws, `run.failed` with the error's
 * message; on cancellation, `run.cancelled`. A terminal event emitted by `run` itself
 * replaces the automatic one. With an idempotency key, concurrent and repeated starts of
 * the same `scope` return the first execution (`created: false`): a double click or a React
 * StrictMode double effect starts one run, and another caller's identical key starts its
 * own. Once the hub is shutting down (`hub.close()`), a new start runs nothing and its
 * `done` rejects with `stream-closed`.
 *
 * @param hub - the hub to publish on; its catalog must hold the `run.*` events
 * @param options - the work, the stream, the caller's scope and idempotency key, a cancel
 *   signal
 * @returns the execution, at once: the run starts on the next microtask
 * @throws {@link taskwire!TaskwireError} `invalid-option` for an empty stream, key or scope
 * @example
 * ```ts
 * app.post('/runs', async (req, res) => {
 *   const access = await hub.authorize({ stream: 'runs', door: 'start', headers: headerReaderOf(req), request: req })
 *   if (!access.ok) return res.status(access.refusal.status).json({ error: access.refusal })
 *   const execution = startExecution(hub, {
 *     scope: access.key,
 *     idempotencyKey: req.get('Idempotency-Key'),
 *     run: async ({ emit, signal }) => {
 *       await emit('node.started', { nodeId: 'fetch' })
 *       const page = await fetch(url, { signal })
 *       await emit('node.completed', { nodeId: 'fetch', output: page.status })
 *     },
 *   })
 *   serveNode(hub, req, res, { stream: execution.stream })
 * })
 * ```
 */
export function startExecution<C extends Catalog, R = unknown>(
  hub: Hub<C>,
  options: StartExecutionOptions<C, R>,
): Execution {
  const now = options.now ?? DEFAULT_EXECUTION_OPTIONS.now
  const ttlMs = options.idempotencyTtlMs ?? DEFAULT_EXECUTION_OPTIONS.idempotencyTtlMs
  const scope = options.scope
  if (options.idempotencyKey === '' || options.stream === '' || scope === '') {
    throw new TaskwireError(
      'invalid-option',
      'stream, idempotencyKey and scope must be non-empty strings when given.',
    )
  }
  const key = options.idempotencyKey === undefined ? undefined : scopedKey(scope, options.idempotencyKey)
  const registry = registryOf(hub)
  sweep(registry, now())

  const byKey = key === undefined ? undefined : registry.byKey.get(key)
  // A stream chosen by the server (a job id) runs one execution at a time, whoever asks:
  // the route's `authorize` at the `start` door decides who may reach that stream.
  const existing =
    (byKey && !isExpired(byKey, now()) ? byKey : undefined) ??
    (options.stream === undefined ? undefined : registry.byStream.get(options.stream))
  if (existing) {
    if (key !== undefined && existing !== byKey) registry.byKey.set(key, existing)
    return { ...existing.execution, created: false }
  }

  const stream = options.stream ?? globalThis.crypto.randomUUID()
  const publish = hub.publish as unknown as UntypedPublish
  const controller = new AbortController()
  let terminalType: string | undefined
  let cancelled = false
  let finished = false
  let chain: Promise<unknown> = Promise.resolve()
  // Emits run one after another, so the broker sees them in the order they were made.
  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const next = chain.then(task)
    chain = next.catch(() => undefined)
    return next
  }

  let settle: (status: RunStatus) => void = () => {}
  let fail: (error: unknown) => void = () => {}
  const done = new Promise<RunStatus>((resolve, reject) => {
    settle = resolve
    fail = reject
  })

  const onError = options.onError ?? DEFAULT_EXECUTION_OPTIONS.onError
  done.catch(onError)

  const onAbort = (): void => {
    // A failure to publish run.cancelled rejects `done`, which reports it.
    execution.cancel(abortReason(options.signal)).catch(() => undefined)
  }
  const finish = (outcome: { status: RunStatus } | { error: unknown }): void => {
    if (finished) return
    finished = true
    record.finishedAtMs = now()
    if (registry.byStream.get(stream) === record) registry.byStream.delete(stream)
    options.signal?.removeEventListener('abort', onAbort)
    if ('status' in outcome) settle(outcome.status)
    else fail(outcome.error)
  }

  const context: ExecutionContext<C> = {
    stream,
    signal: controller.signal,
    emit: <T extends EventType<C>>(type: T, data: EventInput<C, T>): Promise<EventOf<C, T>> => {
      if (cancelled) {
        return Promise.reject(
          new TaskwireError('aborted', `Execution ${stream} was cancelled; stop emitting.`),
        )
      }
      if (terminalType !== undefined) {
        return Promise.reject(
          new TaskwireError('stream-closed', `Execution ${stream} already ended with ${terminalType}.`),
        )
      }
      if (!isTerminalEventType(type))
        return enqueue(() => publish(stream, type, data)) as Promise<EventOf<C, T>>
      terminalType = type
      const published = enqueue(() => publish(stream, type, data))
      // A terminal event that was refused (invalid data, a broker outage) ended nothing: the
      // runner still publishes one when the run settles.
      published.catch(() => {
        if (terminalType === type && !cancelled) terminalType = undefined
      })
      return published as Promise<EventOf<C, T>>
    },
  }

  const execution: Execution = {
    stream,
    created: true,
    done,
    signal: controller.signal,
    cancel(reason?: string): Promise<void> {
      if (finished || cancelled || terminalType !== undefined) return done.then(() => undefined)
      cancelled = true
      terminalType = 'run.cancelled'
      controller.abort(new TaskwireError('aborted', reason ?? `Execution ${stream} was cancelled.`))
      return enqueue(() => publish(stream, 'run.cancelled', reason === undefined ? {} : { reason })).then(
        () => finish({ status: 'cancelled' }),
        (error: unknown) => {
          finish({ error })
          throw error
        },
      )
    },
  }
  const record: ExecutionRecord = { execution, scope, ttlMs, finishedAtMs: undefined }
  registry.byStream.set(stream, record)
  if (key !== undefined) registry.byKey.set(key, record)

  const started = options.started ?? DEFAULT_EXECUTION_OPTIONS.started
  const main = async (): Promise<void> => {
    if (registry.closing) {
      throw new TaskwireError('stream-closed', 'The hub is shutting down; start the run on another server.')
    }
    if (started !== false) await enqueue(() => publish(stream, 'run.started', started))
    if (cancelled) return
    let outcome: { ok: true; value: R } | { ok: false; error: unknown }
    try {
      outcome = { ok: true, value: await options.run(context) }
    } catch (error) {
      outcome = { ok: false, error }
    }
    // Let the run's own terminal event land (or be refused) before deciding.
    if (terminalType !== undefined) await chain
    if (cancelled) return
    if (terminalType !== undefined) {
      finish({ status: STATUS_OF_TERMINAL[terminalType] ?? 'completed' })
      return
    }
    if (outcome.ok) {
      terminalType = 'run.completed'
      await enqueue(() =>
        publish(stream, 'run.completed', outcome.value === undefined ? {} : { output: outcome.value }),
      )
      finish({ status: 'completed' })
    } else {
      terminalType = 'run.failed'
      await enqueue(() => publish(stream, 'run.failed', { error: errorInfo(outcome.error) }))
      finish({ status: 'failed' })
    }
  }
  if (options.signal?.aborted) {
    onAbort()
  } else {
    options.signal?.addEventListener('abort', onAbort, { once: true })
  }
  main().catch((error: unknown) => finish({ error }))
  return execution
}

/**
 * Cancels the execution running on a stream of a hub: its signal aborts and
 * `run.cancelled` is published. An execution started with a `scope` is cancelled only when
 * the same scope asks, so a caller who learned a stream id (it is sent in `X-Execution-Id`)
 * cannot cancel another caller's run: run `hub.authorize()` at the `cancel` door and pass
 * the key it names.
 *
 * @param hub - the hub the execution was started on
 * @param stream - the execution's stream
 * @param options - the caller's scope and the reason
 * @returns true when an execution of that scope was running there and is now cancelled;
 *   false when none was running, it had ended, or it belongs to another scope (answer 404
 *   for all three, so a caller learns nothing of other callers' runs)
 * @throws whatever publishing `run.cancelled` threw (a broker outage, a closed hub)
 * @example
 * ```ts
 * app.delete('/runs/:id', async (req, res) => {
 *   const access = await hub.authorize({ stream: req.params.id, door: 'cancel', headers: headerReaderOf(req), request: req })
 *   if (!access.ok) return res.status(access.refusal.status).json({ error: access.refusal })
 *   const cancelled = await cancelExecution(hub, req.params.id, { scope: access.key, reason: 'user asked' })
 *   res.status(cancelled ? 202 : 404).end()
 * })
 * ```
 */
export async function cancelExecution(
  hub: AnyHub,
  stream: string,
  options: CancelExecutionOptions = {},
): Promise<boolean> {
  const record = registries.get(hub)?.byStream.get(stream)
  if (!record || record.finishedAtMs !== undefined) return false
  if (record.scope !== undefined && record.scope !== options.scope) return false
  await record.execution.cancel(options.reason)
  return true
}

/** The reason `run.cancelled` carries when the hub's shutdown cancels a run. */
export const SHUTDOWN_REASON = 'The server is shutting down.'

/**
 * Settles every execution running on a hub, for `hub.close()`: from this call on, new
 * starts on the hub run nothing; `'cancel'` cancels each running execution (its signal
 * aborts and `run.cancelled` is published with {@link SHUTDOWN_REASON}), `'await'` lets
 * each run to its terminal event. Call it while the hub still accepts publishes. Emits of
 * a cancelled run reject with `aborted`, which the runner does not report; an execution
 * whose terminal event cannot be published reports through its own `onError`, not here.
 *
 * @param hub - the hub the executions were started on
 * @param mode - cancel the runs, or wait for them
 * @returns resolves once every execution running at the call has settled
 */
export async function settleExecutions(hub: object, mode: 'cancel' | 'await'): Promise<void> {
  const registry = registryOf(hub)
  registry.closing = true
  const ignore = (): void => undefined
  await Promise.all(
    [...registry.byStream.values()].map((record) =>
      (mode === 'cancel' ? record.execution.cancel(SHUTDOWN_REASON) : record.execution.done).then(
        ignore,
        ignore,
      ),
    ),
  )
}

/** The registry key of an idempotency key within its scope; JSON keeps the pair unambiguous. */
function scopedKey(scope: string | undefined, key: string): string {
  return JSON.stringify([scope ?? null, key])
}

function isExpired(record: ExecutionRecord, nowMs: number): boolean {
  return record.finishedAtMs !== undefined && nowMs - record.finishedAtMs >= record.ttlMs
}

function sweep(registry: Registry, nowMs: number): void {
  // Amortized: at most once a second, so a burst of starts does not scan the map each time.
  if (nowMs - registry.lastSweepMs < 1000) return
  registry.lastSweepMs = nowMs
  for (const [key, record] of registry.byKey) {
    if (isExpired(record, nowMs)) registry.byKey.delete(key)
  }
}

function abortReason(signal: AbortSignal | undefined): string | undefined {
  const reason: unknown = signal?.reason
  if (reason instanceof Error) return reason.message
  return typeof reason === 'string' ? reason : undefined
}

function errorInfo(error: unknown): { message: string; code?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? { message: error.message, code } : { message: error.message }
  }
  return { message: String(error) }
}
