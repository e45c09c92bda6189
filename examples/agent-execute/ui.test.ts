// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { createElement, StrictMode } from 'react'
import { afterEach, expect, it } from 'vitest'
import type { ExampleOptions } from '../shared/example-app.js'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createAgentExecuteApp } from './app.js'
import { AgentExecutePanel } from './ui.js'

let served: ServedApps | undefined
afterEach(async () => {
  cleanup()
  await served?.close()
  served = undefined
})

/** Serves the app and points the page at it, as the playground's page would be; returns its log. */
async function page(options: ExampleOptions): Promise<string[]> {
  const lines: string[] = []
  served = await serveApps([await createAgentExecuteApp({ ...options, log: (line) => lines.push(line) })])
  ;(window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${served.origin}/`)
  render(createElement(StrictMode, null, createElement(AgentExecutePanel)))
  // The team's names arrive from GET /api/agents.
  await screen.findByText('Flaky Agent')
  return lines
}

const card = (role: string) => document.querySelector(`[data-role="${role}"]`)
const statuses = () =>
  Object.fromEntries(
    [...document.querySelectorAll('[data-role]')].map((el) => [
      el.getAttribute('data-role'),
      el.getAttribute('data-status'),
    ]),
  )

it('runs the team from one click under StrictMode: cards go from pending to green or red', async () => {
  const log = await page({ pace: 0.01 })
  expect(statuses()).toEqual({
    'tech-lead': 'pending',
    frontend: 'pending',
    backend: 'pending',
    qa: 'pending',
  })

  act(() => {
    fireEvent.click(screen.getByLabelText('Flaky Agent'))
    fireEvent.click(screen.getByLabelText('parallel'))
  })
  act(() => screen.getByText('Execute').click())
  await waitFor(
    () => expect(screen.getByTestId('agent-execute-run').getAttribute('data-status')).toBe('failed'),
    {
      timeout: 10_000,
    },
  )

  expect(statuses()).toEqual({
    'tech-lead': 'completed',
    frontend: 'completed',
    backend: 'completed',
    qa: 'completed',
    flaky: 'error',
  })
  expect(card('flaky')?.textContent).toContain('API rate limit exceeded')
  expect(card('tech-lead')?.textContent).toMatch(/\d+\.\d s/)
  expect(card('tech-lead')?.textContent).toContain('artifacts')
  expect(card('qa')?.textContent).not.toContain('artifacts')
  expect(log.filter((line) => line.includes(' started '))).toHaveLength(1)
})

it('cancels the run: the running card stops, the rest never start', async () => {
  await page({ pace: 1 })
  act(() => screen.getByText('Execute').click())
  await waitFor(() => expect(card('tech-lead')?.getAttribute('data-status')).toBe('running'), {
    timeout: 10_000,
  })
  act(() => screen.getByText('Cancel').click())
  await waitFor(
    () => expect(screen.getByTestId('agent-execute-run').getAttribute('data-status')).toBe('cancelled'),
    {
      timeout: 10_000,
    },
  )
  expect(new Set(Object.values(statuses()))).toEqual(new Set(['cancelled']))
  expect(document.querySelector('.tw-status')?.getAttribute('data-status')).toBe('closed')
})
