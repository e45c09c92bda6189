import { useEffect, useState } from 'react'
import type { AgentState, RunState } from 'taskwire'
import { useExecution } from 'taskwire/react'
import { StatusDot } from '../shared/status-dot.js'
import './ui.css'

// The seeded demo user's token. A real page takes it from its session.
const HEADERS = { authorization: 'Bearer demo-token', 'content-type': 'application/json' }
const cancelUrl = (id: string) => `/api/agents/executions/${encodeURIComponent(id)}`

interface TeamMember {
  role: string
  name: string
  description: string
}

const DEFAULT_TEAM: TeamMember[] = ['tech-lead', 'frontend', 'backend', 'qa', 'flaky'].map((role) => ({
  role,
  name: role,
  description: '',
}))
const DEFAULT_SELECTION = ['tech-lead', 'frontend', 'backend', 'qa']

type CardStatus = 'pending' | 'running' | 'completed' | 'error' | 'cancelled'

/** A card's colour: gray until the agent starts, blue while it runs, then green or red. */
function cardStatus(agent: AgentState | undefined, run: RunState): CardStatus {
  if (agent?.status === 'completed') return 'completed'
  if (agent?.status === 'failed') return 'error'
  // A cancelled run leaves its unfinished agents where they were: show them stopped.
  if (run.status === 'cancelled') return 'cancelled'
  return agent ? 'running' : 'pending'
}

/** The roles the run's task announced (`task.created`'s `meta.selectedAgents`), pending ones included. */
function rolesOf(run: RunState): string[] | undefined {
  const selected = run.tasks[0]?.meta.selectedAgents
  return Array.isArray(selected)
    ? selected.filter((role): role is string => typeof role === 'string')
    : undefined
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/**
 * Starts an agent team with a POST whose response is the run's stream, and shows each
 * agent's card as it works. The run goes on on the server if the page goes away; Cancel
 * stops it.
 */
export function AgentExecutePanel() {
  const team = useTeam()
  const [taskDescription, setTaskDescription] = useState('Add a dark mode toggle to the settings page')
  const [executionMode, setExecutionMode] = useState<'sequential' | 'parallel'>('sequential')
  const [selected, setSelected] = useState(DEFAULT_SELECTION)
  const { start, cancel, state, status, error, executionId } = useExecution({
    url: '/api/agents/execute/stream',
    headers: HEADERS,
    cancelUrl,
  })
  const running = status === 'connecting' || status === 'open' || status === 'reconnecting'
  const roles = rolesOf(state) ?? (executionId ? state.agentOrder : selected)
  const nameOf = (role: string) => state.agents[role]?.name ?? team.find((m) => m.role === role)?.name ?? role
  const output = state.output as { outputs?: number } | undefined

  const toggle = (role: string) =>
    setSelected((current) =>
      current.includes(role)
        ? current.filter((r) => r !== role)
        : team.map((m) => m.role).filter((r) => r === role || current.includes(r)),
    )

  return (
    <section className="tw-panel agent-execute" data-testid="agent-execute">
      <header>
        <div>
          <h2>Agent team</h2>
          <p className="tw-hint">POST /api/agents/execute/stream answers with the run's events.</p>
        </div>
        <StatusDot status={status} />
      </header>

      <form
        className="agent-execute-form"
        onSubmit={(event) => {
          event.preventDefault()
          // One start per click: useExecution sends a fresh Idempotency-Key with it.
          start(JSON.stringify({ taskDescription, selectedAgents: selected, executionMode }))
        }}
      >
        <textarea
          aria-label="Task"
          rows={2}
          value={taskDescription}
          onChange={(event) => setTaskDescription(event.target.value)}
        />
        <fieldset className="agent-execute-team" disabled={running}>
          {team.map((member) => (
            <label key={member.role} title={member.description}>
              <input
                type="checkbox"
                checked={selected.includes(member.role)}
                onChange={() => toggle(member.role)}
              />
              {member.name}
            </label>
          ))}
        </fieldset>
        <fieldset className="agent-execute-mode" disabled={running}>
          {(['sequential', 'parallel'] as const).map((mode) => (
            <label key={mode}>
              <input
                type="radio"
                name="agent-execute-mode"
                checked={executionMode === mode}
                onChange={() => setExecutionMode(mode)}
              />
              {mode}
            </label>
          ))}
        </fieldset>
        <div className="agent-execute-actions">
          <button
            type="submit"
            className="tw-button primary"
            disabled={running || selected.length === 0 || !taskDescription.trim()}
          >
            Execute
          </button>
          <button
            type="button"
            className="tw-button"
            disabled={!running}
            onClick={() => void cancel().catch(() => {})}
          >
            Cancel
          </button>
          {executionId && (
            <span className="tw-badge" data-status={state.status} data-testid="agent-execute-run">
              {state.status}
              {state.durationMs !== null && ` · ${seconds(state.durationMs)}`}
              {typeof output?.outputs === 'number' && ` · ${output.outputs} outputs`}
            </span>
          )}
        </div>
      </form>

      {error && <p role="alert">{error.message}</p>}
      {state.status === 'failed' && state.error && <p role="alert">{state.error.message}</p>}

      <div className="agent-execute-grid">
        {roles.map((role) => {
          const agent = state.agents[role]
          const cardState = cardStatus(agent, state)
          return (
            <article key={role} className="agent-execute-card" data-role={role} data-status={cardState}>
              <h3>{nameOf(role)}</h3>
              <p>{agent?.error?.message ?? agent?.message ?? agent?.description ?? 'Waiting…'}</p>
              <footer>
                <span>{cardState}</span>
                {agent?.durationMs != null && <span>{seconds(agent.durationMs)}</span>}
                {agent?.hasArtifacts && <span className="agent-execute-artifacts">✓ artifacts</span>}
              </footer>
            </article>
          )
        })}
      </div>
    </section>
  )
}

/** The team's names and descriptions from `GET /api/agents`; the bare roles until it answers. */
function useTeam(): TeamMember[] {
  const [team, setTeam] = useState(DEFAULT_TEAM)
  useEffect(() => {
    const controller = new AbortController()
    fetch('/api/agents', { headers: HEADERS, signal: controller.signal })
      .then((response) => (response.ok ? (response.json() as Promise<{ agents: TeamMember[] }>) : undefined))
      .then((body) => body && setTeam(body.agents))
      .catch(() => {}) // the roles alone still work
    return () => controller.abort()
  }, [])
  return team
}
