// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { createElement, StrictMode } from 'react'
import { afterEach, expect, it } from 'vitest'
import { type ServedApps, serveApps } from '../shared/serve-app.js'
import { createFlowExecutorApp } from './app.js'
import { FlowExecutorPanel } from './ui.js'

let served: ServedApps | undefined
afterEach(async () => {
  cleanup()
  await served?.close()
  served = undefined
})

/** Serves the app, points the page at it and renders the panel once the flows are listed. */
async function page(pace: number): Promise<void> {
  served = await serveApps([await createFlowExecutorApp({ pace })])
  ;(window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${served.origin}/`)
  render(createElement(StrictMode, null, createElement(FlowExecutorPanel)))
  await screen.findByText('Gemini AI')
}

const statuses = () =>
  Object.fromEntries(
    [...document.querySelectorAll('[data-node]')].map((el) => [
      el.getAttribute('data-node'),
      el.getAttribute('data-status'),
    ]),
  )
const dot = () => document.querySelector('.tw-status')?.getAttribute('data-status')

it('runs the demo flow: nodes spin one by one, then all turn green, and the dot closes', async () => {
  await page(0.2)
  expect(statuses()).toEqual({
    'Manual Trigger': 'idle',
    'HTTP Request': 'idle',
    'Gemini AI': 'idle',
    'Format Output': 'idle',
  })
  expect(dot()).toBe('idle')

  act(() => screen.getByText('Run').click())
  await waitFor(() => expect(Object.values(statuses())).toContain('running'))
  expect(dot()).toBe('open')
  await waitFor(() => expect(dot()).toBe('closed'), { timeout: 10_000 })

  expect(statuses()).toEqual({
    'Manual Trigger': 'success',
    'HTTP Request': 'success',
    'Gemini AI': 'success',
    'Format Output': 'success',
  })
  expect(document.querySelector('[data-node="Gemini AI"]')?.textContent).toContain('gemini-2.5-flash')
  expect(screen.getByTestId('flow-executor-execution').textContent).toMatch(/^Execution 1 finished at/)
})

it('runs the broken flow: the AI node turns red with its error, the last node never runs', async () => {
  await page(0)
  act(() => {
    fireEvent.change(screen.getByRole('combobox'), { target: { value: 'broken' } })
  })
  act(() => screen.getByText('Run').click())
  await waitFor(() => expect(dot()).toBe('closed'), { timeout: 10_000 })

  expect(statuses()).toEqual({
    'Manual Trigger': 'success',
    'HTTP Request': 'success',
    'Gemini AI': 'error',
    'Format Output': 'idle',
  })
  expect(document.querySelector('[data-node="Gemini AI"]')?.textContent).toContain('API key not configured')
})
