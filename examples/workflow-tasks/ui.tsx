'use client'

import { type FormEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react'
import type { RunState, TaskStatus } from 'taskwire'
import { useEvent, useRun } from 'taskwire/react'
import { StatusDot } from '../shared/status-dot.js'
import './ui.css'

const WORKFLOW = 'demo'
const TASKS_URL = `/api/workflows/${WORKFLOW}/tasks`
const EVENTS_URL = `/api/workflows/${WORKFLOW}/events`
const TOAST_MS = 4500

const STATUS_LABELS: Record<TaskStatus, string> = {
  pending: 'Pending',
  in_progress: 'In progress',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
}

// Defined outside the component: a stable selector, so the list re-renders only when a task changes.
const selectTasks = (state: RunState) => state.tasks

type ToastKind = 'success' | 'info' | 'error'

interface Toast {
  id: number
  kind: ToastKind
  text: string
}

/**
 * The live task list of workflow `demo`: every change made anywhere (another tab, curl)
 * appears at once, newest task on top, with a toast for each change.
 */
export function WorkflowTasksPanel() {
  // The list is the workflow's stream folded into state: a snapshot on connect, then each
  // task.created, task.updated, task.status, task.completed and task.deleted applied in order.
  const { state: tasks, status, error, reconnect } = useRun(EVENTS_URL, { select: selectTasks })
  const newestFirst = useMemo(() => [...tasks].reverse(), [tasks])
  const { toasts, notify, dismiss } = useToasts()
  const [title, setTitle] = useState('')

  const titleOf = (taskId: string) => tasks.find((task) => task.id === taskId)?.title ?? taskId
  // Same URL and options as useRun: one connection serves both.
  useEvent(EVENTS_URL, '*', (event) => {
    switch (event.type) {
      case 'task.created':
        return notify('success', `New task: ${event.data.title ?? event.data.taskId}`)
      case 'task.updated':
        return notify('info', `Updated: ${event.data.title ?? titleOf(event.data.taskId)}`)
      case 'task.status':
        return notify('info', `${titleOf(event.data.taskId)}: ${STATUS_LABELS[event.data.status]}`)
      case 'task.completed':
        return notify('success', `Completed: ${titleOf(event.data.taskId)}`)
      case 'task.deleted':
        return notify('info', `Deleted: ${titleOf(event.data.taskId)}`)
    }
  })

  /** Sends a write; the list itself changes when its event arrives, for this page as for every other. */
  const send = async (method: string, url: string, body?: unknown): Promise<boolean> => {
    const init: RequestInit = { method }
    if (body !== undefined) {
      init.headers = { 'content-type': 'application/json' }
      init.body = JSON.stringify(body)
    }
    try {
      const response = await fetch(url, init)
      if (!response.ok) notify('error', await problemOf(response))
      return response.ok
    } catch {
      notify('error', 'The server cannot be reached; try again.')
      return false
    }
  }

  const addTask = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    if (await send('POST', TASKS_URL, { title })) setTitle('')
  }
  const setStatus = (taskId: string, next: TaskStatus) =>
    void send('PATCH', `${TASKS_URL}/${encodeURIComponent(taskId)}`, { status: next })
  const remove = (taskId: string) => void send('DELETE', `${TASKS_URL}/${encodeURIComponent(taskId)}`)

  return (
    <section className="tw-panel workflow-tasks" data-testid="workflow-tasks">
      <header>
        <h2>Workflow tasks</h2>
        <span className="workflow-tasks-connection">
          <StatusDot status={status} />
          {/* Reconnects now and catches up on anything missed since the last event. */}
          <button type="button" className="tw-button" onClick={reconnect}>
            Refresh
          </button>
        </span>
      </header>
      <p className="tw-hint">
        Workflow <code>{WORKFLOW}</code>: changes made in another tab or with curl appear here at once.
      </p>
      {error && status !== 'open' && (
        <p className="workflow-tasks-error" role="alert">
          {error.message}
        </p>
      )}

      <form className="workflow-tasks-form" onSubmit={(event) => void addTask(event)}>
        <input
          aria-label="Task title"
          placeholder="New task title"
          value={title}
          onChange={(event) => setTitle(event.target.value)}
        />
        <button type="submit" className="tw-button primary">
          Add task
        </button>
      </form>

      <ul className="workflow-tasks-list">
        {newestFirst.map((task) => (
          <li key={task.id} className="workflow-tasks-task" data-task-id={task.id} data-status={task.status}>
            <div className="workflow-tasks-text">
              <strong>{task.title ?? task.id}</strong>
              {task.description && <small>{task.description}</small>}
            </div>
            <span className="tw-badge" data-status={task.status}>
              {STATUS_LABELS[task.status]}
            </span>
            <span className="workflow-tasks-actions">
              {task.status === 'pending' && (
                <button type="button" className="tw-button" onClick={() => setStatus(task.id, 'in_progress')}>
                  Start
                </button>
              )}
              {task.status !== 'completed' && (
                <button type="button" className="tw-button" onClick={() => setStatus(task.id, 'completed')}>
                  Complete
                </button>
              )}
              <button type="button" className="tw-button" onClick={() => remove(task.id)}>
                Delete
              </button>
            </span>
          </li>
        ))}
        {newestFirst.length === 0 && status === 'open' && <li className="tw-hint">No tasks yet.</li>}
      </ul>

      <div className="workflow-tasks-toasts">
        {toasts.map((toast) => (
          <ToastItem key={toast.id} toast={toast} onDismiss={dismiss} />
        ))}
      </div>
    </section>
  )
}

/** The toasts shown, newest last; at most four at a time. */
function useToasts() {
  const [toasts, setToasts] = useState<Toast[]>([])
  const lastId = useRef(0)
  const dismiss = useCallback(
    (id: number) => setToasts((shown) => shown.filter((toast) => toast.id !== id)),
    [],
  )
  const notify = useCallback((kind: ToastKind, text: string) => {
    const id = ++lastId.current
    setToasts((shown) => [...shown, { id, kind, text }].slice(-4))
  }, [])
  return { toasts, notify, dismiss }
}

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: (id: number) => void }) {
  useEffect(() => {
    const timer = setTimeout(() => onDismiss(toast.id), TOAST_MS)
    return () => clearTimeout(timer)
  }, [toast.id, onDismiss])
  return (
    <div
      className="workflow-tasks-toast"
      data-kind={toast.kind}
      role={toast.kind === 'error' ? 'alert' : 'status'}
    >
      <span>{toast.text}</span>
      <button type="button" aria-label="Dismiss" onClick={() => onDismiss(toast.id)}>
        ×
      </button>
    </div>
  )
}

/** The message of an error answer: the server's, with each invalid field it names. */
async function problemOf(response: Response): Promise<string> {
  try {
    const { error } = (await response.json()) as {
      error?: { message?: string; issues?: { path: string; message: string }[] }
    }
    const fields = error?.issues?.map((issue) =>
      issue.path ? `${issue.path}: ${issue.message}` : issue.message,
    )
    if (fields?.length) return fields.join(' ')
    if (error?.message) return error.message
  } catch {
    // Not JSON: fall back to the status below.
  }
  return `The server answered ${response.status}.`
}
