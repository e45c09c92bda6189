import { createHub, type Hub } from 'taskwire/server'

/** A hub with what closes it: the hub, then the Redis broker when there is one. */
export interface WorkflowHub {
  hub: Hub
  close(): Promise<void>
}

/**
 * Creates the hub that carries every workflow's task events, one stream per workflow.
 *
 * @param options - a Redis URL (and its key prefix), so that every server process serves every workflow's
 *   stream; without it the hub keeps streams in memory (one process)
 * @returns the hub and its closer
 */
export async function createWorkflowHub(
  options: { redisUrl?: string | undefined; redisPrefix?: string | undefined } = {},
): Promise<WorkflowHub> {
  const settings = {
    // A `: hb` comment every 30 seconds keeps proxies from closing a quiet list's stream.
    heartbeatMs: 30_000,
    // A page that opens the stream gets the current list as one `stream.snapshot` rather
    // than a replay of every change since the server started.
    snapshotOnConnect: true,
  }
  if (!options.redisUrl) {
    const hub = createHub(settings)
    return { hub, close: () => hub.close() }
  }
  // Imported only when used, so an app without Redis needs no `redis` package.
  const { createRedisBroker } = await import('taskwire/redis')
  const broker = await createRedisBroker({
    url: options.redisUrl,
    prefix: options.redisPrefix ?? 'taskwire-example:workflow-tasks:',
  })
  const hub = createHub({ ...settings, broker })
  return {
    hub,
    async close() {
      await hub.close()
      await broker.close()
    },
  }
}
