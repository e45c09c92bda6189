import { createAdaptorServer } from '@hono/node-server'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import type { Framing } from '../../src/core/index.js'
import type { AuthorizeDecision } from '../../src/server/admit-subscriber.js'
import { serveNode } from '../../src/server/serve-node.js'
import { serveWeb } from '../../src/server/serve-web.js'
import type { Hub } from '../../src/server/types.js'
import { BLANK_PAGE } from './chromium.js'
import { startServer, type TestServer } from './http-server.js'
import { webToNode } from './web-bridge.js'

/** The frameworks the adapters are proven against. */
export type FrameworkName = 'node:http' | 'express' | 'fastify' | 'hono' | 'web'

/** Every framework, in the order suites run them. */
export const FRAMEWORK_NAMES: readonly FrameworkName[] = ['node:http', 'express', 'fastify', 'hono', 'web']

/** The token the `private-*` streams accept (`Authorization: Bearer good`). */
export const GOOD_TOKEN = 'Bearer good'

/**
 * The rule every test server applies: streams named `private-*` need `Authorization: Bearer
 * good`; without a header they answer 401, with another one 403.
 *
 * @param authorization - the request's Authorization header
 * @param stream - the stream asked for
 * @returns the decision
 */
export function decide(authorization: string | null | undefined, stream: string): AuthorizeDecision {
  if (!stream.startsWith('private-')) return true
  if (!authorization) return { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } }
  return authorization === GOOD_TOKEN
}

/**
 * Starts `framework` serving `hub` on 127.0.0.1:0 with the same routes everywhere:
 * `GET /page` (a blank same-origin page for Chromium), `GET /events/:stream` (named framing)
 * and `GET /data-only/:stream` (data-only framing), each idiomatic for its framework.
 *
 * @param framework - which one
 * @param hub - the hub to serve
 * @returns the running server
 */
export async function startFramework(framework: FrameworkName, hub: Hub): Promise<TestServer> {
  switch (framework) {
    case 'node:http':
      return startServer((req, res) => {
        const path = (req.url ?? '/').split('?')[0] ?? '/'
        if (path === '/page') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(BLANK_PAGE)
        const route = matchRoute(path)
        if (!route) return void res.writeHead(404).end()
        void serveNode(hub, req, res, {
          stream: route.stream,
          framing: route.framing,
          authorize: (request, stream) => decide(request.headers.authorization, stream),
        })
      })
    case 'express': {
      const app = express()
      app.get('/page', (_req, res) => {
        res.type('html').send(BLANK_PAGE)
      })
      for (const [prefix, framing] of ROUTES) {
        app.get(`/${prefix}/:stream`, (req, res) =>
          serveNode(hub, req, res, {
            stream: req.params.stream,
            framing,
            authorize: (request, stream) => decide(request.headers.authorization, stream),
          }),
        )
      }
      return startServer(app)
    }
    case 'fastify': {
      const fastify = Fastify()
      fastify.get('/page', (_request, reply) => reply.type('text/html').send(BLANK_PAGE))
      for (const [prefix, framing] of ROUTES) {
        fastify.get<{ Params: { stream: string } }>(`/${prefix}/:stream`, async (request, reply) => {
          // Fastify must not answer this request itself: the adapter owns the raw response.
          reply.hijack()
          await serveNode(hub, request.raw, reply.raw, {
            stream: request.params.stream,
            framing,
            authorize: (req, stream) => decide(req.headers.authorization, stream),
          })
        })
      }
      await fastify.ready()
      const server = await startServer(fastify.server)
      const close = server.close
      server.close = async () => {
        await close()
        await fastify.close()
      }
      return server
    }
    case 'hono': {
      const app = new Hono()
      app.get('/page', (c) => c.html(BLANK_PAGE))
      for (const [prefix, framing] of ROUTES) {
        app.get(`/${prefix}/:stream`, (c) =>
          serveWeb(hub, c.req.raw, {
            stream: c.req.param('stream'),
            framing,
            authorize: (request, stream) => decide(request.headers.get('authorization'), stream),
          }),
        )
      }
      return startServer(createAdaptorServer({ fetch: app.fetch }) as Parameters<typeof startServer>[0])
    }
    case 'web':
      return startServer(
        webToNode(async (request) => {
          const url = new URL(request.url)
          if (url.pathname === '/page')
            return new Response(BLANK_PAGE, { headers: { 'Content-Type': 'text/html' } })
          const route = matchRoute(url.pathname)
          if (!route) return new Response(null, { status: 404 })
          return serveWeb(hub, request, {
            stream: route.stream,
            framing: route.framing,
            authorize: (req, stream) => decide(req.headers.get('authorization'), stream),
          })
        }),
      )
  }
}

const ROUTES: readonly (readonly [string, Framing])[] = [
  ['events', 'named'],
  ['data-only', 'data-only'],
]

function matchRoute(path: string): { stream: string; framing: Framing } | undefined {
  for (const [prefix, framing] of ROUTES) {
    const match = new RegExp(`^/${prefix}/([^/]+)$`).exec(path)
    if (match?.[1]) return { stream: decodeURIComponent(match[1]), framing }
  }
  return undefined
}
