import { useEffect, useId, useState } from 'react'
import type { NodeState, NodeStatus, RunState } from 'taskwire'
import { fetchTransport, webSocketTransport } from 'taskwire/client'
import { useEvent, useRun } from 'taskwire/react'
import { StatusDot } from '../shared/status-dot.js'
import type { ExecuteAnswer } from './app.js'
import type { NodeKind, Workflow, WorkflowEdge, WorkflowNode } from './workflow.js'
import './ui.css'

const WORKFLOW_ID = 'demo'
const NODE_WIDTH = 170
const NODE_HEIGHT = 64

// Module-level: the hooks compare transports by identity, so these must not change per render.
const OVER = {
  ws: { transport: webSocketTransport },
  sse: { transport: fetchTransport },
} as const
type Channel = keyof typeof OVER

const KIND_LABELS: Record<NodeKind, string> = {
  trigger: 'Trigger',
  agent: 'Agent',
  tool: 'Tool',
  output: 'Output',
}
const STATUS_ICONS: Record<NodeStatus, string> = { pending: '○', running: '', completed: '✓', failed: '✕' }
const ENDED = new Set<RunState['status']>(['completed', 'failed', 'cancelled'])

/**
 * The workflow builder: the demo workflow's graph, an Execute button, and the execution
 * followed live over WebSocket or SSE, each node coloured by its status as it runs.
 *
 * @param props - `failureRate`, sent with Execute (0 for a run without failures); absent,
 *   the server's default applies
 */
export function WorkflowBuilderPanel({ failureRate }: { failureRate?: number } = {}) {
  const [workflow, setWorkflow] = useState<Workflow | null>(null)
  const [problem, setProblem] = useState<string | null>(null)
  const [execution, setExecution] = useState<ExecuteAnswer | null>(null)
  const [starting, setStarting] = useState(false)
  const [channel, setChannel] = useState<Channel>('ws')
  const radioName = useId()

  const source = execution ? (channel === 'ws' ? execution.ws : execution.events) : null
  const { state: run, status, error } = useRun(source, OVER[channel])
  const following = status === 'connecting' || status === 'open' || status === 'reconnecting'
  // The run's events this page received (the snapshots and resets a server may send aside):
  // shown under the graph, and equal to the server's count when nothing was lost or doubled.
  const [counted, setCounted] = useState({ source, count: 0 })
  const received = counted.source === source ? counted.count : 0
  useEvent(
    source,
    '*',
    (event) => {
      if (event.type.startsWith('stream.')) return
      setCounted((last) => ({ source, count: (last.source === source ? last.count : 0) + 1 }))
    },
    OVER[channel],
  )

  useEffect(() => {
    const controller = new AbortController()
    fetch(`/api/workflows/${WORKFLOW_ID}`, { signal: controller.signal })
      .then(async (response) => {
        if (!response.ok) throw new Error(await messageOf(response))
        setWorkflow((await response.json()) as Workflow)
      })
      .catch((reason: unknown) => {
        if (!controller.signal.aborted) setProblem(`Could not load the workflow: ${String(reason)}`)
      })
    return () => controller.abort()
  }, [])

  async function execute(): Promise<void> {
    setStarting(true)
    setProblem(null)
    try {
      const response = await fetch(`/api/workflows/${WORKFLOW_ID}/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(failureRate === undefined ? {} : { failureRate }),
      })
      if (!response.ok) throw new Error(await messageOf(response))
      setExecution((await response.json()) as ExecuteAnswer)
    } catch (reason) {
      setProblem(`Could not execute: ${reason instanceof Error ? reason.message : String(reason)}`)
    } finally {
      setStarting(false)
    }
  }

  return (
    <section
      className="tw-panel"
      data-testid="workflow-builder"
      data-execution-id={execution?.executionId}
      data-last-event-id={run.lastEventId ?? undefined}
      data-event-count={execution ? received : undefined}
    >
      <header>
        <div>
          <h2>Workflow builder</h2>
          <p className="tw-hint">
            {workflow ? `“${workflow.name}”` : 'A workflow'}: Execute runs it on the server; each node turns
            blue while it runs, then green or red.
          </p>
        </div>
        <StatusDot status={status} />
      </header>

      <div className="workflow-builder-toolbar">
        <button
          type="button"
          className="tw-button primary"
          disabled={!workflow || starting || following}
          onClick={() => void execute()}
        >
          {starting ? 'Starting…' : following ? 'Running…' : 'Execute'}
        </button>
        <fieldset className="workflow-builder-channel">
          <legend>Updates over</legend>
          {(['ws', 'sse'] as const).map((option) => (
            <label key={option}>
              <input
                type="radio"
                name={radioName}
                value={option}
                checked={channel === option}
                onChange={() => setChannel(option)}
              />
              {option === 'ws' ? 'WebSocket' : 'SSE'}
            </label>
          ))}
        </fieldset>
        {execution && (
          <span className="workflow-builder-execution">
            {execution.executionId} · seed {execution.seed} · {received} events
          </span>
        )}
      </div>

      {problem && <p role="alert">{problem}</p>}
      {error && status !== 'open' && <p className="workflow-builder-connection">{error.message}</p>}
      {workflow && <Canvas workflow={workflow} nodes={run.nodes} />}
      {workflow && ENDED.has(run.status) && <Summary run={run} total={workflow.nodes.length} />}
    </section>
  )
}

/** The graph: edges drawn in SVG under absolutely positioned node boxes. */
function Canvas({ workflow, nodes }: { workflow: Workflow; nodes: RunState['nodes'] }) {
  const width = Math.max(...workflow.nodes.map((node) => node.position.x)) + NODE_WIDTH + 16
  const height = Math.max(...workflow.nodes.map((node) => node.position.y)) + NODE_HEIGHT + 16
  const byId = new Map(workflow.nodes.map((node) => [node.id, node]))
  return (
    <div className="workflow-builder-scroll">
      <div className="workflow-builder-canvas" style={{ width, height }}>
        <svg className="workflow-builder-edges" width={width} height={height} aria-hidden="true">
          {workflow.edges.map((edge) => (
            <Edge key={edge.id} edge={edge} byId={byId} nodes={nodes} />
          ))}
        </svg>
        {workflow.nodes.map((node) => (
          <NodeBox key={node.id} node={node} state={nodes[node.id]} />
        ))}
      </div>
    </div>
  )
}

function Edge({
  edge,
  byId,
  nodes,
}: {
  edge: WorkflowEdge
  byId: ReadonlyMap<string, WorkflowNode>
  nodes: RunState['nodes']
}) {
  const from = byId.get(edge.source)
  const to = byId.get(edge.target)
  if (!from || !to) return null
  const x1 = from.position.x + NODE_WIDTH
  const y1 = from.position.y + NODE_HEIGHT / 2
  const x2 = to.position.x
  const y2 = to.position.y + NODE_HEIGHT / 2
  const bend = (x2 - x1) / 2
  // Data flows along an edge once its source completed; it animates while the target runs.
  const sourceDone = nodes[edge.source]?.status === 'completed'
  const flow = !sourceDone ? 'idle' : nodes[edge.target]?.status === 'running' ? 'active' : 'done'
  return (
    <path
      className="workflow-builder-edge"
      data-flow={flow}
      d={`M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`}
    />
  )
}

function NodeBox({ node, state }: { node: WorkflowNode; state: NodeState | undefined }) {
  const status = state?.status ?? 'pending'
  const message = state?.error?.message ?? state?.message ?? (status === 'pending' ? 'Waiting' : '')
  return (
    <div
      className="workflow-builder-node"
      data-node-id={node.id}
      data-status={status}
      data-kind={node.kind}
      style={{ left: node.position.x, top: node.position.y, width: NODE_WIDTH, height: NODE_HEIGHT }}
      title={message}
    >
      <span className="workflow-builder-icon" role="img" aria-label={status}>
        {STATUS_ICONS[status]}
      </span>
      <span className="workflow-builder-text">
        <strong>{node.name}</strong>
        <small className="workflow-builder-kind">{KIND_LABELS[node.kind]}</small>
        <span className="workflow-builder-message">{message}</span>
      </span>
      {status === 'running' && state?.percent != null && (
        <span className="workflow-builder-progress" style={{ width: `${state.percent}%` }} />
      )}
    </div>
  )
}

/** Shown once the run has ended: how it ended, how far it got, and what it produced. */
function Summary({ run, total }: { run: RunState; total: number }) {
  const completed = Object.values(run.nodes).filter((node) => node.status === 'completed').length
  return (
    <div className="workflow-builder-summary" data-status={run.status} role="status">
      <span className="tw-badge" data-status={run.status}>
        {run.status}
      </span>{' '}
      {completed} of {total} nodes completed
      {run.durationMs !== null && ` in ${(run.durationMs / 1000).toFixed(1)} s`}
      {run.status === 'failed' && run.error && <p>{run.error.message}</p>}
      {run.status === 'completed' && run.output !== undefined && (
        <details>
          <summary>Output</summary>
          <pre>{JSON.stringify(run.output, null, 2)}</pre>
        </details>
      )}
    </div>
  )
}

/** The message of a JSON error answer (`{ error: { message } }`), else the status line. */
async function messageOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } }
    if (body.error?.message) return body.error.message
  } catch {
    // Not JSON: the status says enough.
  }
  return `HTTP ${response.status}`
}
