import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { createRedisBroker } from 'taskwire/redis'
import {
  type AccessDecision,
  type AccessRequest,
  attachWebSocket,
  createHub,
  serveNode,
  startExecution,
} from 'taskwire/server'
import { WebSocketServer } from 'ws'
import * as z from 'zod'
import { type ExampleApp, type ExampleOptions, redisPrefixOf } from '../shared/example-app.js'
import { simulateWorkflow } from './simulation.js'
import { demoScripts, demoWorkflow, type NodeScript, type Workflow } from './workflow.js'

/** The chance that each node fails when the request does not say. */
export const DEFAULT_FAILURE_RATE = 0.1

const GRAPH_ROUTE = /^\/api\/workflows\/([^/]+)$/
const EXECUTE_ROUTE = /^\/api\/workflows\/([^/]+)\/execute$/
const EVENTS_ROUTE = /^\/api\/workflows\/executions\/([^/]+)\/events$/
const WEBSOCKET_ROUTE = /^\/ws\/workflows\/executions\/([^/]+)$/
const MAX_BODY_BYTES = 4096

/** What `POST /api/workflows/:id/execute` accepts; every field is optional, and so is the body. */
const ExecuteBody = z.strictObject({
  failureRate: z.number().min(0).max(1).optional(),
  seed: z.number().int().min(0).max(0xffff_ffff).optional(),
})

/** What `POST /api/workflows/:id/execute` answers. */
export interface ExecuteAnswer {
  executionId: string
  workflowId: string
  seed: number
  failureRate: number
  /** The SSE stream of the execution. */
  events: string
  /** The same stream over WebSocket. */
  ws: string
}

/**
 * The workflow builder's server: the seeded workflow's graph, a POST that executes it (a
 * simulation with realistic timing and random node failures), and the execution's updates
 * over SSE and WebSocket from one hub. With `redisUrl`, every instance on that Redis serves
 * every execution, whichever instance started it.
 *
 * @param options - Redis, pace and log
 * @returns the app, with fresh state
 */
export async function createWorkflowBuilderApp(options: ExampleOptions = {}): Promise<ExampleApp> {
  const pace = options.pace ?? 1
  const log = (line: string): void => options.log?.(`workflow-builder: ${line}`)
  const workflows = new Map<string, { workflow: Workflow; scripts: Readonly<Record<string, NodeScript>> }>([
    [demoWorkflow.id, { workflow: demoWorkflow, scripts: demoScripts }],
  ])

  const broker = options.redisUrl
    ? await createRedisBroker({
        url: options.redisUrl,
        prefix: redisPrefixOf(options, 'workflow-builder'),
      })
    : undefined
  // Every door to a stream (SSE, WebSocket) asks this policy first: an execution id that no
  // run has published to is a 404, on every instance, before any byte of a stream is sent.
  const hub = createHub({ ...(broker ? { broker } : {}), authorize: knownExecution })
  async function knownExecution({ stream }: AccessRequest): Promise<AccessDecision> {
    const state = await hub.snapshot(stream)
    return state.lastEventId !== null || { status: 404, message: `No execution ${stream}.` }
  }

  // noServer: the playground's server hands over the upgrades for our path. A small
  // maxPayload, because ws buffers a whole message before anyone checks the socket.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 })
  const detach = attachWebSocket(hub, wss, {
    stream: (request) => paramOf(WEBSOCKET_ROUTE, request) ?? null,
  })

  async function execute(req: IncomingMessage, res: ServerResponse, workflowId: string): Promise<void> {
    const found = workflows.get(workflowId)
    if (!found) return sendError(res, 404, 'not-found', `No workflow ${workflowId}.`)
    const input = await readExecuteBody(req, res)
    if (!input) return
    const { workflow, scripts } = found
    // A UUID rather than a counter: several instances on one Redis start executions too.
    const executionId = `exec-${randomUUID()}`
    const seed = input.seed ?? Math.floor(Math.random() * 2 ** 32)
    const failureRate = input.failureRate ?? DEFAULT_FAILURE_RATE

    // Resolves once run.started is in the broker's log, so any instance asked for the stream
    // right after this answer finds it.
    await startExecution(hub, {
      stream: executionId,
      // Announces every node as pending, so a viewer draws the whole graph from the first event.
      started: {
        executionId,
        workflowId: workflow.id,
        mode: 'manual',
        nodes: workflow.nodes.map((node) => ({ nodeId: node.id, name: node.name })),
      },
      onError: (error) => log(`${executionId}: ${error instanceof Error ? error.message : String(error)}`),
      run: async (context) => {
        const end = await simulateWorkflow(workflow, scripts, { failureRate, seed, pace }, context)
        log(`${executionId} ${end.type}, last event ${end.id}`)
      },
    })
    log(`${executionId} started (workflow ${workflow.id}, seed ${seed}, failureRate ${failureRate})`)
    const answer: ExecuteAnswer = {
      executionId,
      workflowId: workflow.id,
      seed,
      failureRate,
      events: `/api/workflows/executions/${encodeURIComponent(executionId)}/events`,
      ws: `/ws/workflows/executions/${encodeURIComponent(executionId)}`,
    }
    sendJson(res, 202, answer)
  }

  return {
    name: 'workflow-builder',
    handle(req, res) {
      const path = pathOf(req)
      if (req.method === 'GET' && EVENTS_ROUTE.test(path)) {
        const id = paramOf(EVENTS_ROUTE, req)
        if (id === undefined)
          sendError(res, 400, 'invalid-id', 'The execution id is not a valid URL segment.')
        else void serveNode(hub, req, res, { stream: id })
        return true
      }
      if (req.method === 'POST' && EXECUTE_ROUTE.test(path)) {
        const id = paramOf(EXECUTE_ROUTE, req)
        if (id === undefined) sendError(res, 400, 'invalid-id', 'The workflow id is not a valid URL segment.')
        else
          execute(req, res, id).catch((error: unknown) => {
            // The broker could not claim the stream or store run.started (Redis unreachable, say).
            log(`execute failed: ${error instanceof Error ? error.message : String(error)}`)
            if (!res.headersSent) {
              res.setHeader('retry-after', '1')
              sendError(res, 503, 'unavailable', 'The execution could not be started; retry.')
            }
          })
        return true
      }
      if (req.method === 'GET' && GRAPH_ROUTE.test(path)) {
        const id = paramOf(GRAPH_ROUTE, req)
        const found = id === undefined ? undefined : workflows.get(id)
        if (found) sendJson(res, 200, found.workflow)
        else sendError(res, 404, 'not-found', `No workflow ${id ?? ''}.`)
        return true
      }
      return false
    },
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
      if (!WEBSOCKET_ROUTE.test(pathOf(req))) return false
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
      return true
    },
    async close() {
      detach()
      // Cancels running executions (their viewers see run.cancelled) and closes every stream.
      await hub.close()
      for (const socket of wss.clients) socket.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      await broker?.close()
    },
  }
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://localhost').pathname
}

/** The route's one parameter, decoded; undefined when it does not match or is malformed (`%E0%A4%A`). */
function paramOf(route: RegExp, req: IncomingMessage): string | undefined {
  const raw = route.exec(pathOf(req))?.[1]
  if (raw === undefined) return undefined
  try {
    return decodeURIComponent(raw)
  } catch {
    return undefined
  }
}

/**
 * Reads and checks the body of an execute request, answering 400 or 413 itself.
 *
 * @returns the input, or undefined when the request was answered with an error
 */
async function readExecuteBody(
  req: IncomingMessage,
  res: ServerResponse,
): Promise<z.infer<typeof ExecuteBody> | undefined> {
  const tooLarge = (): undefined => {
    res.setHeader('connection', 'close')
    sendError(res, 413, 'body-too-large', `The body must be at most ${MAX_BODY_BYTES} bytes.`)
  }
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return tooLarge()
  const chunks: Buffer[] = []
  let size = 0
  // Past the bound the rest is drained, not kept, so the 413 still reaches the client.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size <= MAX_BODY_BYTES) chunks.push(chunk)
  }
  if (size > MAX_BODY_BYTES) return tooLarge()
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return {}
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    sendError(res, 400, 'invalid-json', 'The body is not JSON.')
    return undefined
  }
  const parsed = ExecuteBody.safeParse(json)
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }))
  sendError(res, 400, 'invalid-body', 'The body does not describe an execution.', issues)
  return undefined
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}

/** Errors in the shape taskwire's own refusals use: `{ error: { code, message, issues? } }`. */
function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  issues?: { path: string; message: string }[],
): void {
  sendJson(res, status, { error: issues ? { code, message, issues } : { code, message } })
}
