import { StrictMode, useEffect, useRef, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { AgentExecutePanel } from '../../agent-execute/ui.js'
import { FlowExecutorPanel } from '../../flow-executor/ui.js'
import { mountJobPanel } from '../../job-task-events/ui.js'
import { WorkflowBuilderPanel } from '../../workflow-builder/ui.js'
import { WorkflowTasksPanel } from '../../workflow-tasks/ui.js'
import type { PlaygroundInfo } from '../playground.js'
import '../../shared/ui.css'
import './dashboard.css'

/** The job panel is written with taskwire/vanilla; React only gives it an element to own. */
function JobPanel() {
  const host = useRef<HTMLDivElement>(null)
  useEffect(() => (host.current ? mountJobPanel(host.current) : undefined), [])
  return <div ref={host} />
}

/** Which server this page talks to: its process (in a cluster), broker and database. */
function ServerInfo() {
  const [info, setInfo] = useState<PlaygroundInfo | null>(null)
  useEffect(() => {
    void fetch('/api/playground')
      .then((response) => response.json() as Promise<PlaygroundInfo>)
      .then(setInfo, () => setInfo(null))
  }, [])
  if (!info) return null
  return (
    <p className="dashboard-info">
      {info.process === 'single' ? '' : `served by process ${info.process} (pid ${info.pid}) · `}
      {info.broker === 'redis' ? 'Redis broker' : 'in-memory broker'} ·{' '}
      {info.database === 'postgres' ? 'PostgreSQL' : 'PGlite'}
    </p>
  )
}

// `?failureRate=0` turns off the workflow builder's random node failures (a demo without red nodes).
const failureRate = new URLSearchParams(location.search).get('failureRate')

function Dashboard() {
  return (
    <main className="dashboard">
      <header className="dashboard-header">
        <h1>taskwire playground</h1>
        <ServerInfo />
      </header>
      <div className="dashboard-grid">
        <div className="dashboard-wide">
          <WorkflowBuilderPanel {...(failureRate === null ? {} : { failureRate: Number(failureRate) })} />
        </div>
        <AgentExecutePanel />
        <FlowExecutorPanel />
        <WorkflowTasksPanel />
        <JobPanel />
      </div>
    </main>
  )
}

const root = document.getElementById('root')
if (root)
  createRoot(root).render(
    <StrictMode>
      <Dashboard />
    </StrictMode>,
  )
