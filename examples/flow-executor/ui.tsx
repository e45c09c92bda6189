import { createParser } from 'eventsource-parser'
import { type Dispatch, type SetStateAction, useEffect, useRef, useState } from 'react'
import type { ConnectionStatus } from 'taskwire/react'
import { StatusDot } from '../shared/status-dot.js'
import type { LegacyEvent } from './legacy-events.js'
import './ui.css'

/** A node as the editor shows it: gray, spinning, a check mark or a cross. */
type NodeStatus = 'idle' | 'running' | 'success' | 'error'

interface NodeView {
  name: string
  status: NodeStatus
  /** The node's output (success) or error message. */
  detail: string | null
}

interface FlowSummary {
  id: string
  name: string
  nodes: { id: string; name: string; type: string }[]
}

const idle = (flow: FlowSummary | undefined): NodeView[] =>
  flow?.nodes.map((node) => ({ name: node.name, status: 'idle', detail: null })) ?? []

/**
 * The editor's hook, as it was before the server moved to taskwire: it POSTs, reads the
 * response body chunk by chunk and parses the `data:` frames itself. It knows nothing of
 * taskwire; the server keeps writing the frames it always did.
 */
function useExecutionStream(setNodes: Dispatch<SetStateAction<NodeView[]>>) {
  const [status, setStatus] = useState<ConnectionStatus>('idle')
  const [executionId, setExecutionId] = useState<number | null>(null)
  const [finishedAt, setFinishedAt] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const running = useRef<AbortController | null>(null)
  // Leaving the page stops reading; the execution itself goes on on the server.
  useEffect(() => () => running.current?.abort(), [])

  const updateNode = (name: string, patch: Partial<NodeView>) =>
    setNodes((nodes) => nodes.map((node) => (node.name === name ? { ...node, ...patch } : node)))

  const onEvent = (event: LegacyEvent) => {
    switch (event.type) {
      case 'executionStarted':
        setExecutionId(event.data.executionId)
        break
      case 'nodeExecutionBefore':
        updateNode(event.data.nodeName, { status: 'running' })
        break
      case 'nodeExecutionAfter':
        if ('error' in event.data)
          updateNode(event.data.nodeName, { status: 'error', detail: event.data.error.message })
        else updateNode(event.data.nodeName, { status: 'success', detail: JSON.stringify(event.data.data) })
        break
      case 'executionFinished':
        setFinishedAt(event.data.finishedAt)
        break
    }
  }

  const execute = async (flowId: string, inputData: Record<string, unknown>) => {
    running.current?.abort()
    const controller = new AbortController()
    running.current = controller
    setStatus('connecting')
    setExecutionId(null)
    setFinishedAt(null)
    setError(null)
    setNodes((nodes) => nodes.map((node) => ({ ...node, status: 'idle', detail: null })))
    try {
      const response = await fetch('/api/v1/executions/stream', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ flowId, inputData }),
        signal: controller.signal,
      })
      if (!response.ok || !response.body) throw new Error(`The server answered ${response.status}.`)
      setStatus('open')
      const parser = createParser({ onEvent: (message) => onEvent(JSON.parse(message.data) as LegacyEvent) })
      const reader = response.body.getReader()
      const decoder = new TextDecoder()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(decoder.decode(value, { stream: true }))
      }
    } catch (caught) {
      if (!controller.signal.aborted) setError(caught instanceof Error ? caught.message : String(caught))
    } finally {
      if (running.current === controller) {
        running.current = null
        setStatus('closed')
      }
    }
  }

  return {
    execute,
    isExecuting: status === 'connecting' || status === 'open',
    status,
    executionId,
    finishedAt,
    error,
  }
}

const ICONS: Record<NodeStatus, string> = { idle: '○', running: '◌', success: '✓', error: '✕' }

/**
 * A flow editor's Run button: pick a flow, run it, watch each node turn running, then
 * green or red, from the n8n-style frames of the POST that started it.
 */
export function FlowExecutorPanel() {
  const [flows, setFlows] = useState<FlowSummary[]>([])
  const [flowId, setFlowId] = useState('demo')
  const [nodes, setNodes] = useState<NodeView[]>([])
  const { execute, isExecuting, status, executionId, finishedAt, error } = useExecutionStream(setNodes)

  useEffect(() => {
    let live = true
    fetch('/api/v1/flows')
      .then((response) => response.json() as Promise<{ flows: FlowSummary[] }>)
      .then(
        (body) => {
          if (!live) return
          setFlows(body.flows)
          setNodes(idle(body.flows.find((flow) => flow.id === 'demo') ?? body.flows[0]))
        },
        () => {},
      )
    return () => {
      live = false
    }
  }, [])

  const pick = (id: string) => {
    setFlowId(id)
    setNodes(idle(flows.find((flow) => flow.id === id)))
  }

  return (
    <section className="tw-panel flow-executor" data-testid="flow-executor">
      <header>
        <div>
          <h2>Flow executor</h2>
          <p className="tw-hint">n8n-style frames from the POST, read by the page's own parser</p>
        </div>
        <StatusDot status={status} />
      </header>
      <div className="flow-executor-controls">
        <label>
          Flow{' '}
          <select value={flowId} disabled={isExecuting} onChange={(event) => pick(event.target.value)}>
            {flows.map((flow) => (
              <option key={flow.id} value={flow.id}>
                {flow.name}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="tw-button primary"
          disabled={isExecuting || nodes.length === 0}
          onClick={() => void execute(flowId, {})}
        >
          Run
        </button>
      </div>
      <ol className="flow-executor-nodes">
        {nodes.map((node) => (
          <li key={node.name} className="flow-executor-node" data-node={node.name} data-status={node.status}>
            <span className="flow-executor-icon" aria-hidden="true">
              {ICONS[node.status]}
            </span>
            <span className="flow-executor-name">{node.name}</span>
            {node.detail !== null && <small className="flow-executor-detail">{node.detail}</small>}
          </li>
        ))}
      </ol>
      {error !== null && (
        <p className="flow-executor-error" role="alert">
          {error}
        </p>
      )}
      {executionId !== null && (
        <p className="tw-hint" data-testid="flow-executor-execution">
          Execution {executionId}
          {finishedAt === null ? ' running…' : ` finished at ${new Date(finishedAt).toLocaleTimeString()}`} ·{' '}
          <a href={`/api/v1/executions/${executionId}/events`} target="_blank" rel="noreferrer">
            the same run on taskwire's wire
          </a>
        </p>
      )}
    </section>
  )
}
