import type { IncomingMessage, ServerResponse } from 'node:http'
import { TaskwireHttpError } from 'taskwire'
import { createRedisBroker, type RedisBroker } from 'taskwire/redis'
import {
  type AccessPolicy,
  cancelExecution,
  createHub,
  headerReaderOf,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type Refusal,
  serveNode,
  startExecution,
} from 'taskwire/server'
import * as z from 'zod'
import { type ExampleApp, type ExampleOptions, redisPrefixOf } from '../shared/example-app.js'
import { ROLES, TEAM, teamRun } from './team.js'

/**
 * The seeded users, by bearer token. A real app looks the token up in its session or API key
 * store; what matters here is the user id, which scopes idempotency keys and cancels.
 */
const TOKENS: Readonly<Record<string, string>> = {
  'demo-token': 'demo-user',
  'teammate-token': 'teammate',
}

const MAX_BODY_BYTES = 64 * 1024

/** Every route takes `Authorization: Bearer <token>`; the hub asks this at every door. */
const bearerPolicy: AccessPolicy = ({ headers }) => {
  const match = /^Bearer\s+(\S+)$/i.exec(headers.get('authorization') ?? '')
  if (!match?.[1]) {
    return {
      status: 401,
      message: 'Send Authorization: Bearer <token>.',
      headers: { 'WWW-Authenticate': 'Bearer' },
    }
  }
  const user = TOKENS[match[1]]
  return user === undefined ? { status: 403, message: 'Unknown token.' } : { key: user }
}

const Body = z.object({
  taskDescription: z.string().trim().min(1, 'Describe the task.').max(2000),
  selectedAgents: z
    .array(
      z.string().refine((role) => ROLES.includes(role), {
        error: (issue) =>
          `Unknown agent role ${JSON.stringify(issue.input)}; the team is ${ROLES.join(', ')}.`,
      }),
    )
    .min(1, 'Select at least one agent.')
    .max(ROLES.length)
    .refine((roles) => new Set(roles).size === roles.length, 'Select each agent once.'),
  executionMode: z.enum(['sequential', 'parallel']),
  provider: z.string().min(1).max(40).default('simulated'),
})

/**
 * An AI agent team whose runs stream in the POST that starts them:
 * `POST /api/agents/execute/stream` starts a run and answers with its SSE stream; the run goes on when the client leaves, a repeated start with the
 * same `Idempotency-Key` attaches to it, and `GET /api/agents/executions/:id/events` or a
 * reconnect replays and follows it.
 *
 * @param options - pace, Redis URL, log
 * @returns the app, with its own hub (and broker)
 */
export async function createAgentExecuteApp(options: ExampleOptions = {}): Promise<ExampleApp> {
  const pace = options.pace ?? 1
  const log = options.log ?? (() => {})
  const broker: RedisBroker | undefined = options.redisUrl
    ? await createRedisBroker({ url: options.redisUrl, prefix: redisPrefixOf(options, 'agent-execute') })
    : undefined
  const hub = createHub({ authorize: bearerPolicy, ...(broker ? { broker } : {}) })

  /** Asks the hub's policy; answers the refusal and returns undefined when refused. */
  const access = async (
    req: IncomingMessage,
    res: ServerResponse,
    stream: string,
    door: 'start' | 'cancel',
  ): Promise<string | undefined> => {
    const result = await hub.authorize({ stream, door, headers: headerReaderOf(req), request: req })
    if (result.ok) return result.key
    refuse(res, result.refusal)
    return undefined
  }

  const listTeam = async (req: IncomingMessage, res: ServerResponse) => {
    // Whoever may start a run may see who is on the team.
    if ((await access(req, res, 'agents', 'start')) === undefined) return
    const team = TEAM.map(({ role, name, description, hasArtifacts }) => ({
      role,
      name,
      description,
      hasArtifacts,
    }))
    json(res, 200, { agents: team })
  }

  const execute = async (req: IncomingMessage, res: ServerResponse) => {
    // The run has no stream yet: the start door is asked about what is started.
    const user = await access(req, res, 'agents', 'start')
    if (user === undefined) return
    const text = await readBody(req)
    if (text === undefined) {
      return json(res, 413, {
        error: { code: 'body-too-large', message: `At most ${MAX_BODY_BYTES} bytes.` },
      })
    }
    let input: unknown
    try {
      input = JSON.parse(text)
    } catch {
      return json(res, 400, { error: { code: 'invalid-json', message: 'The body must be JSON.' } })
    }
    const parsed = Body.safeParse(input)
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({
        path: issue.path.join('.'),
        message: issue.message,
      }))
      return json(res, 400, {
        error: { code: 'invalid-body', message: 'The request body is invalid.', issues },
      })
    }
    const idempotencyKey = headerReaderOf(req).get('idempotency-key') ?? undefined
    if (
      idempotencyKey !== undefined &&
      (idempotencyKey === '' || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    ) {
      const message = `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`
      return json(res, 400, {
        error: { code: 'invalid-body', message, issues: [{ path: 'Idempotency-Key', message }] },
      })
    }
    const task = parsed.data
    const execution = await startExecution(hub, {
      scope: user, // another user's identical Idempotency-Key starts its own run
      idempotencyKey, // a double click, StrictMode or a reconnect attaches to the same run
      started: { mode: task.executionMode },
      run: teamRun(task, pace),
    })
    if (execution.created) {
      log(
        `agent-execute: ${user} started ${execution.stream} (${task.executionMode}: ${task.selectedAgents.join(', ')})`,
      )
      execution.done.then(
        (status) => log(`agent-execute: ${execution.stream} ${status}`),
        () => {},
      )
    } else {
      res.setHeader('Idempotent-Replayed', 'true')
    }
    res.setHeader('X-Execution-Id', execution.stream)
    // The POST's response is the run's stream: from its first event, or after Last-Event-ID
    // when a client reconnects with the same key.
    await serveNode(hub, req, res, { stream: execution.stream })
  }

  const follow = (req: IncomingMessage, res: ServerResponse, stream: string) =>
    serveNode(hub, req, res, {
      stream,
      // The id is a random UUID: any signed-in user who has it may watch (a shared link).
      authorize: async (_req, id) =>
        (await hub.read(id, null)).events.length > 0 || { status: 404, message: `No execution ${id}.` },
    })

  const cancel = async (req: IncomingMessage, res: ServerResponse, stream: string) => {
    const user = await access(req, res, stream, 'cancel')
    if (user === undefined) return
    // Scoped: another user's run, an ended one and an unknown id all answer 404.
    if (await cancelExecution(hub, stream, { scope: user, reason: 'Cancelled by the user.' })) {
      log(`agent-execute: ${user} cancelled ${stream}`)
      return json(res, 202, { executionId: stream, status: 'cancelled' })
    }
    json(res, 404, { error: { code: 'not-found', message: `No running execution ${stream} of yours.` } })
  }

  const routes: readonly {
    path: RegExp
    methods: Record<string, (req: IncomingMessage, res: ServerResponse, id: string) => Promise<unknown>>
  }[] = [
    { path: /^\/api\/agents\/?$/, methods: { GET: listTeam } },
    { path: /^\/api\/agents\/execute\/stream$/, methods: { POST: execute } },
    { path: /^\/api\/agents\/executions\/([^/]+)\/events$/, methods: { GET: follow } },
    { path: /^\/api\/agents\/executions\/([^/]+)$/, methods: { DELETE: cancel } },
  ]

  return {
    name: 'agent-execute',
    handle(req, res) {
      const path = (req.url ?? '').split('?', 1)[0] ?? ''
      for (const route of routes) {
        const match = route.path.exec(path)
        if (!match) continue
        const handler = route.methods[req.method ?? 'GET']
        if (!handler) {
          res.setHeader('Allow', Object.keys(route.methods).join(', '))
          json(res, 405, {
            error: { code: 'method-not-allowed', message: `${req.method} is not served here.` },
          })
          return true
        }
        let id = ''
        try {
          id = decodeURIComponent(match[1] ?? '')
        } catch {
          json(res, 400, {
            error: { code: 'invalid-stream', message: 'The execution id is not a valid URL segment.' },
          })
          return true
        }
        handler(req, res, id).catch((error: unknown) => fail(res, error))
        return true
      }
      return false
    },
    async close() {
      // Running executions are cancelled first: their viewers see run.cancelled.
      await hub.close()
      await broker?.close()
    },
  }
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
}

/** A refusal of the hub's policy (401 with `WWW-Authenticate`, 403), as the stream doors answer it. */
function refuse(res: ServerResponse, { status, code, message, headers }: Refusal): void {
  json(res, status, { error: { code, message } }, headers)
}

/** An error nothing else answered: a broker that refused a claim (503), or a bug (500). */
function fail(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  if (error instanceof TaskwireHttpError) {
    json(res, error.status, { error: { code: error.code, message: error.message } })
    return
  }
  console.error(error)
  json(res, 500, { error: { code: 'internal', message: 'Something went wrong; try again.' } })
}

/** The request body as text, or undefined past {@link MAX_BODY_BYTES}. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return undefined
  const chunks: Buffer[] = []
  let size = 0
  // Past the bound the rest is read and dropped, not kept, so the 413 still reaches the client.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size <= MAX_BODY_BYTES) chunks.push(chunk)
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')
}
