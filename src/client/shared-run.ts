import {
  type Catalog,
  type DefaultCatalog,
  initialRunState,
  type RunState,
  type TaskwireError,
} from '../core/index.js'
import { connect } from './connect.js'
import type { ConnectOptions } from './options.js'
import { createRunStore } from './run-store.js'
import type { ConnectionStatus, Resync, StreamHandle } from './stream-handle.js'

/**
 * A run state and the connection it comes from, as one immutable value: a new object only
 * when one of its fields changed (not for every event id), so views compare it by identity.
 */
export interface RunSnapshot {
  /** The run state folded from the stream's events. */
  readonly state: RunState
  /** The connection status. */
  readonly status: ConnectionStatus
  /** Why the connection is not open, if it is not; see `StreamSnapshot.error`. */
  readonly error: TaskwireError | null
  /** How the last opened connection continued the stream; null before the first. */
  readonly resync: Resync | null
}

/** Where a shared run comes from: a stream URL, or a handle from `connect()`. */
export type RunSource<C extends Catalog = DefaultCatalog> = string | URL | StreamHandle<C>

/**
 * A run that every view of one stream shares: one handle, one fold, one connection however
 * many views watch it.
 */
export interface SharedRun<C extends Catalog = DefaultCatalog> {
  /** The stream handle, for `on()`, `reconnect()` and the rest. */
  readonly handle: StreamHandle<C>
  /**
   * The current run snapshot; the same object until the state or the connection changed.
   *
   * @returns the snapshot
   */
  getSnapshot(): RunSnapshot
  /**
   * Calls `listener` after the snapshot changed. Counts as a subscriber of the handle: the
   * first one opens the stream, which disconnects `lingerMs` after the last one left.
   *
   * @param listener - called without arguments; read `getSnapshot()`
   * @returns a function that removes the listener
   */
  subscribe(listener: () => void): () => void
}

/** A reference to a shared run, held until `release()`. */
export interface RunLease<C extends Catalog = DefaultCatalog> extends SharedRun<C> {
  /**
   * Gives the reference back. When the last reference of a run opened from a URL is
   * released, the run is dropped after `lingerMs` and its handle closed, unless a new
   * reference came meanwhile. A handle you passed yourself is never closed. Calling it
   * again does nothing.
   */
  release(): void
}

/**
 * A shared run named by its source and options, found or acquired on demand. Views that
 * render (React) look the run up while rendering, without creating anything, and acquire it
 * when they subscribe.
 */
export interface RunRef<C extends Catalog = DefaultCatalog> {
  /** Equal for two refs that share a run: same URL and equal options, or the same handle. */
  readonly key: string
  /**
   * The run, if something holds it now; creates nothing.
   *
   * @returns the run, or undefined
   */
  find(): SharedRun<C> | undefined
  /**
   * Takes a reference to the run, creating it (with a handle not yet connected) if needed.
   *
   * @returns the lease; release it when done
   */
  acquire(): RunLease<C>
}

/** The snapshot before anything connected, and on a server: the initial state, `idle`. */
export const idleRunSnapshot: RunSnapshot = /* @__PURE__ */ Object.freeze({
  state: initialRunState,
  status: 'idle',
  error: null,
  resync: null,
})

interface Entry {
  readonly run: SharedRun<Catalog>
  refs: number
  timer: ReturnType<typeof setTimeout> | undefined
}

// Runs opened from a URL, by key; each is dropped after its last release and linger.
const byKey = /* @__PURE__ */ new Map<string, Entry>()
// Runs over a handle the caller made: one fold per handle for the handle's whole life, since
// a second fold started later would miss what the handle already delivered.
const byHandle = /* @__PURE__ */ new WeakMap<object, SharedRun<Catalog>>()
const ids = /* @__PURE__ */ new WeakMap<object, number>()
let lastId = 0

const idOf = (value: object): string => {
  let id = ids.get(value)
  if (id === undefined) {
    id = ++lastId
    ids.set(value, id)
  }
  return `#${id}`
}

/**
 * A key for an option value: primitives by value, plain objects and arrays by their
 * contents (so `headers: { ... }` written inline in a component keys the same on every
 * render), anything else (functions, `Headers`, signals, catalog schemas) by identity.
 */
function keyOf(value: unknown, depth: number): string {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return typeof value === 'string' ? JSON.stringify(value) : `${typeof value}:${String(value)}`
  }
  const prototype: unknown = Object.getPrototypeOf(value)
  // Bounded: an option nested deeper (or a cycle) is keyed by identity.
  if (depth > 3) return idOf(value)
  if (Array.isArray(value)) return `[${value.map((item) => keyOf(item, depth + 1)).join(',')}]`
  if (prototype !== Object.prototype && prototype !== null) return idOf(value)
  const record = value as Record<string, unknown>
  const fields = Object.keys(record)
    .filter((name) => record[name] !== undefined)
    .sort()
    .map((name) => `${JSON.stringify(name)}:${keyOf(record[name], depth + 1)}`)
  return `{${fields.join(',')}}`
}

/**
 * The URL a relative one stands for on this page: `events` on two pages is two streams, and
 * `/api/events` is one. Unchanged where there is no page (a server render), or when invalid:
 * `connect()` then says what is wrong, when something subscribes.
 */
function absolute(url: string): string {
  const page = (globalThis as { location?: { href: string } }).location?.href
  try {
    return page === undefined ? url : new URL(url, page).href
  } catch {
    return url
  }
}

const isHandle = <C extends Catalog>(source: RunSource<C>): source is StreamHandle<C> =>
  typeof source === 'object' && !(source instanceof URL)

/** Builds the shared run over a handle: a fold and a snapshot that changes only when it must. */
function share<C extends Catalog>(handle: StreamHandle<C>): SharedRun<C> {
  const store = createRunStore(handle)
  let snapshot = idleRunSnapshot
  const getSnapshot = (): RunSnapshot => {
    const state = store.getState()
    const { status, error, resync } = handle.getSnapshot()
    const s = snapshot
    if (s.state !== state || s.status !== status || s.error !== error || s.resync !== resync) {
      snapshot = Object.freeze({ state, status, error, resync })
    }
    return snapshot
  }
  return {
    handle,
    getSnapshot,
    subscribe(listener) {
      let seen = getSnapshot()
      // The handle also notifies when only `lastEventId` moved; views need not re-render then.
      return handle.subscribe(() => {
        const next = getSnapshot()
        if (next === seen) return
        seen = next
        listener()
      })
    },
  }
}

/**
 * Names a shared run without creating it: {@link RunRef.find} looks it up,
 * {@link RunRef.acquire} takes a reference. Two refs share a run when they have the same
 * URL and equal options: primitives compare by value, plain objects and arrays by their
 * contents, functions and other objects (a `Headers`, a signal, a catalog's schemas) by
 * identity, so keep those stable (module constants, `useCallback`, `useMemo`); a new
 * function on every render means a new connection on every render. With a handle as the
 * source, the options are ignored and the handle is the key.
 *
 * @param source - the stream's URL, or a handle from `connect()`
 * @param options - the options of `connect()`, for a URL
 * @returns the ref
 */
export function runRef<C extends Catalog = DefaultCatalog>(
  source: RunSource<C>,
  options: ConnectOptions<C> = {},
): RunRef<C> {
  if (isHandle(source)) {
    const handle = source
    const lease = (): RunLease<C> => {
      let run = byHandle.get(handle) as SharedRun<C> | undefined
      if (!run) {
        run = share(handle)
        byHandle.set(handle, run as unknown as SharedRun<Catalog>)
      }
      return { ...run, release: () => {} }
    }
    return { key: idOf(handle), find: () => byHandle.get(handle) as SharedRun<C> | undefined, acquire: lease }
  }
  const url = absolute(String(source))
  const key = `${url} ${keyOf(options, 0)}`
  return {
    key,
    find: () => byKey.get(key)?.run as SharedRun<C> | undefined,
    acquire() {
      let entry = byKey.get(key)
      if (!entry) {
        entry = {
          run: share(connect(url, options)) as unknown as SharedRun<Catalog>,
          refs: 0,
          timer: undefined,
        }
        byKey.set(key, entry)
      }
      const held = entry
      clearTimeout(held.timer)
      held.timer = undefined
      held.refs++
      let released = false
      return {
        ...(held.run as unknown as SharedRun<C>),
        release() {
          if (released) return
          released = true
          if (--held.refs > 0) return
          // Same linger as the handle's own, so a view that unmounts and mounts again at once
          // (React StrictMode, a route change) finds the same run and its state.
          held.timer = setTimeout(() => {
            if (held.refs > 0 || byKey.get(key) !== held) return
            byKey.delete(key)
            held.run.handle.close()
          }, options.lingerMs ?? 250)
        },
      }
    },
  }
}

/**
 * Takes a reference to the run of a stream, shared with every other holder of the same URL
 * and equal options, or of the same handle: one connection and one run state for all of
 * them. Options compare by value for primitives, plain objects and arrays, by identity for
 * functions and other objects (a `headers()` function, `Headers`, a catalog, a transport), so
 * pass the same ones each time. The stream connects when the first holder
 * subscribes; after the last reference is released (and `lingerMs`), the handle is closed.
 * This is the store behind `taskwire/react`'s hooks and `taskwire/vanilla`'s
 * `createRunStore`, for bindings to other view libraries.
 *
 * @param source - the stream's URL, or a handle from `connect()` (which is never closed here)
 * @param options - the options of `connect()`, for a URL
 * @returns the lease: `handle`, `getSnapshot`, `subscribe` and `release`
 * @throws {@link taskwire!TaskwireError} `invalid-option` as `connect()` does, for a new run
 * @example
 * ```ts
 * import { acquireRun } from 'taskwire/client'
 *
 * const run = acquireRun('https://example.com/api/runs/42/events')
 * const stop = run.subscribe(() => console.log(run.getSnapshot().state.tasks))
 * // when the view goes away:
 * stop()
 * run.release()
 * ```
 */
export function acquireRun<C extends Catalog = DefaultCatalog>(
  source: RunSource<C>,
  options: ConnectOptions<C> = {},
): RunLease<C> {
  return runRef(source, options).acquire()
}
