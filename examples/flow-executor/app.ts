import type { IncomingMessage, ServerResponse } from 'node:http'
import { createClient } from 'redis'
import { TaskwireHttpError } from 'taskwire'
import { createRedisBroker } from 'taskwire/redis'
import {
  createHub,
  type Hub,
  type HubOptions,
  type Subscription,
  serveNode,
  sseHeadersFor,
  startExecution,
} from 'taskwire/server'
import * as z from 'zod'
import { type ExampleApp, type ExampleOptions, redisPrefixOf } from '../shared/example-app.js'
import { executeFlow, seedFlows } from './flows.js'
import { legacySink } from './legacy-wire.js'

/** Options of {@link createFlowExecutorApp}. */
export interface FlowExecutorOptions extends ExampleOptions {
  /**
   * Time between `: hb` comments on every stream, the legacy one included, in milliseconds.
   * @defaultValue `15_000`
   */
  heartbeatMs?: number | undefined
}

const LEGACY_STREAM_ROUTE = '/api/v1/executions/stream'
const FLOWS_ROUTE = '/api/v1/flows'
const EVENTS_ROUTE = /^\/api\/v1\/executions\/(\d+)\/events$/
const MAX_BODY_BYTES = 64 * 1024

/** The body of `POST /api/v1/executions/stream`. */
const executeRequest = z.object({
  flowId: z.string().min(1),
  inputData: z.record(z.string(), z.unknown()).default({}),
})

/** The hub stream that holds an execution's events. */
const streamOf = (executionId: number | string): string => `flow-execution-${executionId}`

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers })
    .end(JSON.stringify(body))
}

/** Reads a JSON body of at most {@link MAX_BODY_BYTES}; a larger one is drained, not kept. */
async function readJson(
  req: IncomingMessage,
): Promise<{ ok: true; value: unknown } | { ok: false; status: number; message: string }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size <= MAX_BODY_BYTES) chunks.push(chunk)
  }
  if (size > MAX_BODY_BYTES)
    return { ok: false, status: 413, message: `The body is over ${MAX_BODY_BYTES} bytes.` }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) }
  } catch {
    return {
      ok: false,
      status: 400,
      message: 'The body is not JSON; send {"flowId": "demo", "inputData": {}}.',
    }
  }
}

/**
 * The hub, and where execution numbers come from. In one process a counter is enough; with
 * Redis every process of the cluster (and the next restart) must draw from one sequence, or
 * two executions would share a number and a stream. Redis `INCR` plays the part of the
 * executions table's id sequence.
 */
async function openHub(options: FlowExecutorOptions): Promise<{
  hub: Hub
  nextExecutionId: () => Promise<number>
  close: () => Promise<void>
}> {
  const hubOptions: HubOptions = { heartbeatMs: options.heartbeatMs }
  if (!options.redisUrl) {
    const hub = createHub(hubOptions)
    let last = 0
    return { hub, nextExecutionId: async () => ++last, close: () => hub.close() }
  }
  const prefix = redisPrefixOf(options, 'flow-executor')
  const client = createClient({ url: options.redisUrl })
  // node-redis throws an unhandled 'error' without a listener; it reconnects on its own.
  client.on('error', (error: Error) => options.log?.(`flow-executor: Redis: ${error.message}`))
  await client.connect()
  const broker = await createRedisBroker({ client, prefix })
  const hub = createHub({ ...hubOptions, broker })
  return {
    hub,
    nextExecutionId: () => client.incr(`${prefix}execution-id`),
    async close() {
      await hub.close()
      await broker.close()
      await client.close()
    },
  }
}

/**
 * A flow executor whose frontend reads n8n-style `data:`-only frames from the POST that
 * starts an execution. The run publishes taskwire's catalog events (`run.started`,
 * `node.started`, `node.completed`, `node.failed`, `run.completed`/`run.failed`), so replay,
 * state folding and taskwire clients work; only the legacy route writes them out in the old
 * shape.
 *
 * - `POST /api/v1/executions/stream` `{ flowId, inputData }`: starts an execution and
 *   answers with its legacy stream (`executionStarted`, `nodeExecutionBefore`,
 *   `nodeExecutionAfter`, `executionFinished`)
 * - `GET /api/v1/executions/:id/events`: the same execution on taskwire's wire, with ids,
 *   replay and `Last-Event-ID` resume
 * - `GET /api/v1/flows`: the saved flows (`demo`, `broken`)
 *
 * @param options - Redis, pace, log, the heartbeat interval
 * @returns the app, with its seed flows and no execution yet
 */
export async function createFlowExecutorApp(options: FlowExecutorOptions = {}): Promise<ExampleApp> {
  const pace = options.pace ?? 1
  const log = options.log ?? (() => {})
  const flows = new Map(seedFlows.map((flow) => [flow.id, flow]))
  const { hub, nextExecutionId, close } = await openHub(options)

  async function executeStream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Listen first: a client that leaves while the body is read or the run starts must still
    // free the subscription it would have held.
    let gone = false
    let subscription: Subscription | null = null
    res.once('close', () => {
      gone = true
      subscription?.close()
    })

    const body = await readJson(req)
    if (!body.ok) {
      return sendJson(res, body.status, { error: { code: 'invalid-request', message: body.message } })
    }
    const parsed = executeRequest.safeParse(body.value)
    if (!parsed.success) {
      return sendJson(res, 400, {
        error: {
          code: 'invalid-request',
          message: 'The body does not describe an execution.',
          issues: parsed.error.issues.map((issue) => ({
            path: issue.path.join('.'),
            message: issue.message,
          })),
        },
      })
    }
    const { flowId, inputData } = parsed.data
    const flow = flows.get(flowId)
    if (!flow) return sendJson(res, 404, { error: { code: 'not-found', message: `No flow ${flowId}.` } })

    const executionId = await nextExecutionId()
    const stream = streamOf(executionId)
    // Admitted before the run starts, so a client refused at a connection limit (503) starts
    // nothing; events published from now on wait for `start()`.
    subscription = await hub.subscribe(stream, { framing: 'data-only' })
    if (!subscription) throw new Error(`Stream ${stream} has already ended.`)
    if (gone) return subscription.close()

    const execution = await startExecution(hub, {
      stream,
      started: {
        executionId,
        workflowId: flow.id,
        mode: 'manual',
        nodes: flow.nodes.map((node) => ({ nodeId: node.id, name: node.name })),
      },
      // Detached from this response: the run goes on when the client leaves.
      run: (context) => executeFlow(flow, inputData, context, pace),
    })
    log(`flow-executor: execution ${executionId} of flow ${flow.id} started`)
    execution.done.then(
      (status) => log(`flow-executor: execution ${executionId} ${status}`),
      () => {}, // startExecution's onError has reported it
    )
    if (gone) return

    res.writeHead(200, { ...sseHeadersFor(req.httpVersionMajor), 'X-Execution-Id': String(executionId) })
    res.flushHeaders()
    subscription.start(legacySink(res, executionId, hub.catalog))
  }

  function serveEvents(req: IncomingMessage, res: ServerResponse, executionId: string): Promise<unknown> {
    const stream = streamOf(executionId)
    return serveNode(hub, req, res, {
      stream,
      // The hub serves any stream name, even one nothing was published to: an execution
      // that never ran (or has left the replay log) is a 404, not an empty stream left open.
      authorize: async () =>
        (await hub.read(stream)).events.length > 0 || {
          status: 404,
          message: `No execution ${executionId}.`,
        },
    })
  }

  const listFlows = (res: ServerResponse): void =>
    sendJson(res, 200, {
      flows: [...flows.values()].map(({ id, name, nodes }) => ({
        id,
        name,
        nodes: nodes.map((node) => ({ id: node.id, name: node.name, type: node.type })),
      })),
    })

  const failed = (res: ServerResponse) => (error: unknown) => {
    if (res.headersSent) return void res.destroy()
    if (error instanceof TaskwireHttpError) {
      // A hub limit (`connection-limit`, `stream-limit`) or an unreachable broker.
      const retryAfter = String(Math.ceil((error.retryAfterMs ?? 5000) / 1000))
      const body = { error: { code: error.code, message: error.message } }
      return sendJson(res, error.status, body, { 'Retry-After': retryAfter })
    }
    log(`flow-executor: ${error instanceof Error ? error.message : String(error)}`)
    sendJson(res, 500, { error: { code: 'internal', message: 'The execution could not start.' } })
  }

  return {
    name: 'flow-executor',
    handle(req, res) {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (req.method === 'POST' && path === LEGACY_STREAM_ROUTE) {
        executeStream(req, res).catch(failed(res))
        return true
      }
      if (req.method === 'GET' && path === FLOWS_ROUTE) {
        listFlows(res)
        return true
      }
      const events = req.method === 'GET' ? EVENTS_ROUTE.exec(path) : null
      if (events?.[1]) {
        void serveEvents(req, res, events[1])
        return true
      }
      return false
    },
    close,
  }
}
