import {
  type Catalog,
  type DefaultCatalog,
  type Envelope,
  type EventInput,
  type EventOf,
  type EventType,
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
   * The stream the run publishes to. While an execution runs on it, in this process or in
   * another one on the same broker, starting another there returns the running one.
   * @defaultValue a random UUID
   */
  stream?: string | undefined
  /**
   * A key the client repeats for the same intent (an `Idempotency-Key` header): a start
   * with a key of the same `scope` returns that scope's execution, `created: false`,
   * instead of starting a second run, while it runs and for `idempotencyTtlMs` after it
   * ended. The key is claimed in the hub's broker, so this holds across every process
   * sharing it (`taskwire/redis`). Past that window the key is forgotten and the same key starts a new run: a
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
   * milliseconds, counted from its terminal event by the broker's clock (the hub's `now`
   * for the memory broker it creates); after that a start with the key starts a new run.
   * A running execution's key always answers with it.
   * @defaultValue `600_000` (10 minutes)
   */
  idempotencyTtlMs?: number | undefined
  /**
   * Receives the error that rejects `done` (a terminal event that could not be published),
   * so a start nobody awaits never becomes an unhandled rejection.
   * @defaultValue logs with `console.error`
   */
  onError?: ((error: unknown) => void) | undefined
}

/** The defaults of {@link StartExecutionOptions}. */
export const DEFAULT_EXECUTION_OPTIONS: Readonly<{
  [K in 'started' | 'idempotencyTtlMs' | 'onError']-?: Exclude<StartExecutionOptions[K], undefined>
}> = Object.freeze({
  started: Object.freeze({}),
  idempotencyTtlMs: 10 * 60_000,
  onError: (error: unknown) => console.error(error),
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
   * `run.started` could not be; the error also goes to `onError`. For a run that another
   * process executes (`created: false` on a shared broker), it resolves when its terminal
   * event reaches the log.
   */
  readonly done: Promise<RunStatus>
  /**
   * Aborted when the execution is cancelled. For a run another process executes, aborted
   * when this process cancels it.
   */
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

/** The claim an execution holds in the broker: its stream, its caller's scope, its owner. */
interface ClaimValue {
  stream: string
  scope: string | null
  /** The process that runs it: its cancels go to this owner's channel. */
  owner: string
  /** This start alone: a later start of the same stream and key is another run. */
  run: string
  /** The idempotency key's claim, and how long it answers after the end. */
  key: string | null
  ttlMs: number
}

interface LocalRun {
  execution: Execution
  scope: string | undefined
  /** Ends the run's claims when it settles; stops its lease. */
  release: () => void
}

interface Registry {
  /** This process's identity as an execution owner. */
  readonly owner: string
  /** The executions running in this process, by stream. */
  readonly running: Map<string, LocalRun>
  /** Starts of this process still claiming their stream, by stream. */
  readonly starting: Map<string, Promise<Execution>>
  /** Stops listening for cancels sent from other processes. */
  unlisten: Promise<() => void> | undefined
  /** Set by {@link settleExecutions}: the hub is shutting down and starts no new run. */
  closing: boolean
}

/**
 * How long a running execution's claims hold without renewal: a process that dies frees
 * its runs' idempotency keys and streams after this long. Its owner renews them at a third
 * of it.
 */
export const EXECUTION_LEASE_MS = 30_000

/**
 * The longest idempotency key accepted: keys are stored in the broker for the idempotency
 * window, so a caller cannot make them large.
 */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256

/** The broker channel that carries cancels to the process running an execution. */
const cancelChannel = (owner: string): string => `execution:cancel:${owner}`

// Process-local by nature: a run's AbortController and its promise live where it runs. What
// processes must agree on (keys, ownership, cancels) is in the hub's broker.
const registries = new WeakMap<AnyHub, Registry>()

const registryOf = (hub: AnyHub): Registry => {
  let registry = registries.get(hub)
  if (!registry) {
    registry = {
      owner: globalThis.crypto.randomUUID(),
      running: new Map(),
      starting: new Map(),
      unlisten: undefined,
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

const streamClaim = (stream: string): string => `execution:stream:${stream}`
const keyClaim = (scope: string | undefined, key: string): string =>
  `execution:key:${JSON.stringify([scope ?? null, key])}`

const parseClaim = (text: string | null): ClaimValue | undefined => {
  if (text === null) return undefined
  try {
    const value = JSON.parse(text) as Partial<ClaimValue>
    const valid =
      typeof value.stream === 'string' &&
      typeof value.owner === 'string' &&
      typeof value.run === 'string' &&
      typeof value.ttlMs === 'number' &&
      (value.scope === null || typeof value.scope === 'string') &&
      (value.key === null || typeof value.key === 'string')
    return valid ? (value as ClaimValue) : undefined
  } catch {
    return undefined
  }
}

/** Listens, once per hub, for cancels of this process's runs sent from any process. */
const listenForCancels = (hub: AnyHub, registry: Registry): void => {
  if (registry.unlisten) return
  // A channel per owner: a cancel is heard by the process that runs the execution, or by none.
  registry.unlisten = hub.broker.listen(cancelChannel(registry.owner), (message) => {
    let request: { stream?: unknown; scope?: unknown; reason?: unknown }
    try {
      request = JSON.parse(message) as typeof request
    } catch {
      return
    }
    const run = typeof request.stream === 'string' ? registry.running.get(request.stream) : undefined
    if (!run || (run.scope ?? null) !== (request.scope ?? null)) return
    const reason = typeof request.reason === 'string' ? request.reason : undefined
    run.execution.cancel(reason).catch(() => undefined)
  })
  registry.unlisten.catch(() => {
    registry.unlisten = undefined
  })
}

/**
 * Starts a run detached from the request that asked for it (an agent team's run, a flow
 * execution): its events go through the hub, so the client that started it, a reconnecting
 * client and any other viewer see one stream, and the run goes on when they all disconnect.
 *
 * The runner publishes `run.started` (unless `started: false`), then calls `run`; when it
 * resolves, `run.completed` with its output; when it throws, `run.failed` with the error's
 * message; on cancellation, `run.cancelled`. A terminal event emitted by `run` itself
 * replaces the automatic one. With an idempotency key, concurrent and repeated starts of
 * the same `scope` return the first execution (`created: false`): a double click or a React
 * StrictMode double effect starts one run, and another caller's identical key starts its
 * own. Keys, the stream a run holds and cancels go through the hub's broker, so with a
 * shared broker (`taskwire/redis`) this holds across processes: a start repeated on another
 * server attaches to the running execution, and {@link cancelExecution} on any server
 * reaches it. A process that dies frees its runs' keys after {@link EXECUTION_LEASE_MS}.
 * Once the hub is shutting down (`hub.close()`), a new start runs nothing and its `done`
 * rejects with `stream-closed`.
 *
 * @param hub - the hub to publish on; its catalog must hold the `run.*` events
 * @param options - the work, the stream, the caller's scope and idempotency key, a cancel
 *   signal
 * @returns the execution, once its key and stream are claimed and `run.started` is in the
 *   log (any process can serve its stream then); `run` is called next
 * @throws {@link taskwire!TaskwireError} `invalid-option` for an empty stream, key or scope,
 *   or a key longer than {@link MAX_IDEMPOTENCY_KEY_LENGTH}
 * @throws {@link taskwire!TaskwireHttpError} 503 `broker-unavailable` when the broker cannot
 *   record the claim
 * @example
 * ```ts
 * app.post('/runs', async (req, res) => {
 *   const access = await hub.authorize({ stream: 'runs', door: 'start', headers: headerReaderOf(req), request: req })
 *   if (!access.ok) return res.status(access.refusal.status).json({ error: access.refusal })
 *   const execution = await startExecution(hub, {
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
export async function startExecution<C extends Catalog, R = unknown>(
  hub: Hub<C>,
  options: StartExecutionOptions<C, R>,
): Promise<Execution> {
  const ttlMs = options.idempotencyTtlMs ?? DEFAULT_EXECUTION_OPTIONS.idempotencyTtlMs
  const scope = options.scope
  if (options.idempotencyKey === '' || options.stream === '' || scope === '') {
    throw new TaskwireError(
      'invalid-option',
      'stream, idempotencyKey and scope must be non-empty strings when given.',
    )
  }
  if ((options.idempotencyKey?.length ?? 0) > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new TaskwireError(
      'invalid-option',
      `idempotencyKey must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters (a UUID is 36); answer 400 to longer ones.`,
    )
  }
  if (!(Number.isFinite(ttlMs) && ttlMs > 0)) {
    throw new TaskwireError(
      'invalid-option',
      `idempotencyTtlMs must be a positive number, got ${String(ttlMs)}.`,
    )
  }
  const broker = hub.broker
  const registry = registryOf(hub)
  const stream = options.stream ?? globalThis.crypto.randomUUID()
  if (registry.closing) return refused(stream, options.onError ?? DEFAULT_EXECUTION_OPTIONS.onError)
  const key = options.idempotencyKey === undefined ? undefined : keyClaim(scope, options.idempotencyKey)
  const claimed: ClaimValue = {
    stream,
    scope: scope ?? null,
    owner: registry.owner,
    run: globalThis.crypto.randomUUID(),
    key: key ?? null,
    ttlMs,
  }
  const claim = JSON.stringify(claimed)
  const local = registry.running.get(stream) ?? registry.starting.get(stream)
  if (local) return attach(hub, registry, claimed)
  if (key !== undefined) {
    const held = await broker.claim(key, claim, EXECUTION_LEASE_MS)
    const holder = parseClaim(held)
    if (held !== claim && holder) return attach(hub, registry, holder)
  }
  const starting = (async (): Promise<Execution> => {
    // A stream chosen by the server (a job id) runs one execution at a time, whoever asks:
    // the route's `authorize` at the `start` door decides who may reach that stream.
    const onStream = parseClaim(await broker.claim(streamClaim(stream), claim, EXECUTION_LEASE_MS))
    if (onStream && onStream.owner !== registry.owner) {
      if (key !== undefined) await broker.renew(key, claim, 0)
      return attach(hub, registry, onStream)
    }
    if (!registry.closing) listenForCancels(hub, registry)
    return run(hub, registry, stream, claim, key, ttlMs, options)
  })()
  registry.starting.set(stream, starting)
  try {
    return await starting
  } finally {
    registry.starting.delete(stream)
  }
}

async function run<C extends Catalog, R>(
  hub: Hub<C>,
  registry: Registry,
  stream: string,
  claim: string,
  key: string | undefined,
  ttlMs: number,
  options: StartExecutionOptions<C, R>,
): Promise<Execution> {
  const broker = hub.broker
  const publish = hub.publish as unknown as UntypedPublish
  const terminal = new Set<string>(hub.catalog.terminal)
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

  // The owner renews its claims while the run goes on; a dead owner's lapse.
  const lease = setInterval(() => {
    const renewals = [broker.renew(streamClaim(stream), claim, EXECUTION_LEASE_MS)]
    if (key !== undefined) renewals.push(broker.renew(key, claim, EXECUTION_LEASE_MS))
    Promise.all(renewals).catch(() => undefined)
  }, EXECUTION_LEASE_MS / 3)
  ;(lease as { unref?: () => void }).unref?.()

  // True once the run began (run.started published): only then does its key keep answering.
  let begun = false
  const release = (): void => {
    clearInterval(lease)
    const endings = [broker.renew(streamClaim(stream), claim, 0)]
    // The key answers with this execution for the idempotency window after its end; a run
    // that never began frees it, so a retry (on another server) starts one.
    if (key !== undefined) endings.push(broker.renew(key, claim, begun ? ttlMs : 0))
    Promise.all(endings).catch((cause: unknown) =>
      onError(new TaskwireError('broker', `The claims of execution ${stream} were not released.`, { cause })),
    )
  }

  const onAbort = (): void => {
    // A failure to publish run.cancelled rejects `done`, which reports it.
    execution.cancel(abortReason(options.signal)).catch(() => undefined)
  }
  const finish = (outcome: { status: RunStatus } | { error: unknown }): void => {
    if (finished) return
    finished = true
    if (registry.running.get(stream) === local) registry.running.delete(stream)
    release()
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
      if (!terminal.has(type)) return enqueue(() => publish(stream, type, data)) as Promise<EventOf<C, T>>
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
  const local: LocalRun = { execution, scope: options.scope, release }
  registry.running.set(stream, local)

  const started = options.started ?? DEFAULT_EXECUTION_OPTIONS.started
  // Published before the execution is returned: a viewer sent to any process right after the
  // start (another process on a shared broker, too) finds the stream in the log.
  const announced: Promise<unknown> = registry.closing
    ? Promise.reject(
        new TaskwireError('stream-closed', 'The hub is shutting down; start the run on another server.'),
      )
    : started === false
      ? Promise.resolve()
      : enqueue(() => publish(stream, 'run.started', started))
  const main = async (): Promise<void> => {
    await announced
    begun = true
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
  // A failed announcement rejects `done`; the start itself still returns the execution.
  await announced.catch(() => {})
  return execution
}

/** A start on a hub that is shutting down: it claims nothing and runs nothing. */
function refused(stream: string, onError: (error: unknown) => void): Execution {
  const error = new TaskwireError(
    'stream-closed',
    'The hub is shutting down; start the run on another server.',
  )
  const done = Promise.reject(error)
  done.catch(onError)
  const controller = new AbortController()
  controller.abort(error)
  return { stream, created: true, done, signal: controller.signal, cancel: () => done.then(() => undefined) }
}

/**
 * The execution another process runs (or this one ran), seen from here: its stream, a
 * `done` that follows its log to its terminal event, and a `cancel` sent to its owner.
 */
async function attach(hub: AnyHub, registry: Registry, held: ClaimValue): Promise<Execution> {
  const starting = registry.starting.get(held.stream)
  const local = starting ? await starting : registry.running.get(held.stream)?.execution
  if (local) return { ...local, created: false }
  const controller = new AbortController()
  let done: Promise<RunStatus> | undefined
  return {
    stream: held.stream,
    created: false,
    get done() {
      done ??= watchEnd(hub, held.stream)
      return done
    },
    signal: controller.signal,
    async cancel(reason?: string) {
      controller.abort(new TaskwireError('aborted', reason ?? `Execution ${held.stream} was cancelled.`))
      await cancelExecution(hub, held.stream, { scope: held.scope ?? undefined, reason })
    },
  }
}

/** Resolves with how a stream's run ended, from its log, however long that takes. */
async function watchEnd(hub: AnyHub, stream: string): Promise<RunStatus> {
  const terminal = new Set<string>(hub.catalog.terminal)
  const statusOf = (type: string): RunStatus => STATUS_OF_TERMINAL[type] ?? 'completed'
  const state = await hub.snapshot(stream)
  const read = await hub.read(stream, state.lastEventId)
  if (read.ended) {
    // The end may have landed between the snapshot and the read: it is then among the events.
    const end = read.events.find((event) => terminal.has(event.type))
    if (end) return statusOf(end.type)
    return state.status === 'failed' || state.status === 'cancelled' ? state.status : 'completed'
  }
  return new Promise<RunStatus>((resolve, reject) => {
    let stop: (() => void) | undefined
    let status: RunStatus | undefined
    hub.broker
      .subscribe(stream, read.events.at(-1)?.id ?? state.lastEventId, {
        event: (event) => {
          if (status !== undefined || !terminal.has(event.type)) return
          status = statusOf(event.type)
          stop?.()
          resolve(status)
        },
        gap: () => undefined,
      })
      .then((unsubscribe) => {
        stop = unsubscribe
        if (status !== undefined) unsubscribe()
      }, reject)
  })
}

/**
 * Cancels the execution running on a stream of a hub, in this process or in another one on
 * the same broker: its signal aborts and `run.cancelled` is published. An execution started
 * with a `scope` is cancelled only when the same scope asks, so a caller who learned a
 * stream id (it is sent in `X-Execution-Id`) cannot cancel another caller's run: run
 * `hub.authorize()` at the `cancel` door and pass the key it names. When the process that
 * ran the execution is gone (its claim has not lapsed yet), this one publishes
 * `run.cancelled` for it.
 *
 * @param hub - the hub the execution was started on (or one sharing its broker)
 * @param stream - the execution's stream
 * @param options - the caller's scope and the reason
 * @returns true when an execution of that scope was running there and is now cancelled (or
 *   its owner was told to cancel it); false when none was running, it had ended, or it
 *   belongs to another scope (answer 404 for all three, so a caller learns nothing of other
 *   callers' runs)
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
  const local = registries.get(hub)?.running.get(stream)
  if (local) {
    if (local.scope !== undefined && local.scope !== options.scope) return false
    await local.execution.cancel(options.reason)
    return true
  }
  const held = parseClaim(await hub.broker.lookup(streamClaim(stream)))
  if (!held || (held.scope !== null && held.scope !== options.scope)) return false
  const request = JSON.stringify({ stream, scope: held.scope, reason: options.reason })
  if ((await hub.broker.notify(cancelChannel(held.owner), request)) > 0) return true
  // Its owner does not listen: it died with its lease still running. The run ends here.
  if ((await hub.read(stream, null)).ended) return false
  const publish = hub.publish as UntypedPublish
  await publish(stream, 'run.cancelled', options.reason === undefined ? {} : { reason: options.reason })
  const text = JSON.stringify(held)
  await Promise.all([
    hub.broker.renew(streamClaim(stream), text, 0),
    held.key === null ? undefined : hub.broker.renew(held.key, text, held.ttlMs),
  ])
  return true
}

/** The reason `run.cancelled` carries when the hub's shutdown cancels a run. */
export const SHUTDOWN_REASON = 'The server is shutting down.'

/**
 * Settles every execution running on a hub in this process, for `hub.close()`: from this
 * call on, new starts on the hub run nothing; `'cancel'` cancels each running execution
 * (its signal aborts and `run.cancelled` is published with {@link SHUTDOWN_REASON}),
 * `'await'` lets each run to its terminal event. Call it while the hub still accepts
 * publishes. Emits of a cancelled run reject with `aborted`, which the runner does not
 * report; an execution whose terminal event cannot be published reports through its own
 * `onError`, not here.
 *
 * @param hub - the hub the executions were started on
 * @param mode - cancel the runs, or wait for them
 * @returns resolves once every execution running at the call has settled
 */
export async function settleExecutions(hub: AnyHub, mode: 'cancel' | 'await'): Promise<void> {
  const registry = registryOf(hub)
  registry.closing = true
  const ignore = (): void => undefined
  await Promise.all(
    [...registry.running.values()].map((run) =>
      (mode === 'cancel' ? run.execution.cancel(SHUTDOWN_REASON) : run.execution.done).then(ignore, ignore),
    ),
  )
  const unlisten = registry.unlisten
  registry.unlisten = undefined
  if (unlisten) await unlisten.then((stop) => stop(), ignore)
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
