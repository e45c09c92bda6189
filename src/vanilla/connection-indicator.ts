import type { ConnectionStatus, RunSnapshot } from '../client/index.js'

/**
 * What the indicator writes to: any DOM element (typed structurally, so the declarations
 * need no DOM library in projects that do not use one).
 */
export interface IndicatorElement {
  /**
   * Sets an attribute, as `Element.setAttribute` does.
   *
   * @param name - the attribute
   * @param value - its value
   */
  setAttribute(name: string, value: string): void
}

/** Something that reports a connection status the Svelte way, like a run store. */
export interface StatusSource {
  /**
   * Calls `listener` at once with the current value, then after each change.
   *
   * @param listener - called with a value holding `status` and `error`
   * @returns a function that stops the calls
   */
  subscribe(listener: (value: Pick<RunSnapshot, 'status' | 'error'>) => void): () => void
}

/** The `title` an indicator shows for each status; the error's message follows it, when there is one. */
export type IndicatorTitles = Readonly<Record<ConnectionStatus, string>>

const DEFAULT_TITLES: IndicatorTitles = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
}

/**
 * Keeps an element's `data-status` attribute (`idle`, `connecting`, `open`, `reconnecting`,
 * `closed`) and its `title` (a tooltip: "Connected", "Reconnecting…" with the last error)
 * in step with a store's connection status, so CSS can draw a status dot:
 * `[data-status='open'] { background: green }`. Binding does not open the stream by
 * itself beyond what subscribing to the store does.
 *
 * @param element - the element to update
 * @param store - a run store from {@link createRunStore}, or anything with the same `subscribe`
 * @param titles - other texts for the tooltip, per status
 * @returns a function that stops the updates (the attributes keep their last values)
 * @example
 * ```ts
 * import { bindConnectionIndicator, createRunStore } from 'taskwire/vanilla'
 *
 * const run = createRunStore('https://example.com/api/runs/42/events')
 * const unbind = bindConnectionIndicator(document.querySelector('#status-dot')!, run)
 * ```
 */
export function bindConnectionIndicator(
  element: IndicatorElement,
  store: StatusSource,
  titles: Partial<IndicatorTitles> = {},
): () => void {
  return store.subscribe(({ status, error }) => {
    element.setAttribute('data-status', status)
    const title = titles[status] ?? DEFAULT_TITLES[status]
    element.setAttribute('title', error ? `${title} (${error.message})` : title)
  })
}
