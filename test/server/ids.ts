import { expect } from 'vitest'
import type { Hub } from '../../src/server/index.js'

/**
 * The sequence part of an `<epoch>-<seq>` id, which counts from 1 in each stream: what a
 * test compares, since the epoch is the time the stream's log was created.
 *
 * @param id - an event id
 * @returns its sequence number as a string ('' for none)
 */
export const seq = (id: string | null | undefined): string =>
  id === null || id === undefined ? '' : id.slice(id.indexOf('-') + 1)

/**
 * Matches an `<epoch>-<n>` id in `toMatchObject` and `toEqual`.
 *
 * @param n - the sequence number
 * @returns an asymmetric matcher
 */
export const idN = (n: number): unknown => expect.stringMatching(new RegExp(`^\\d+-${n}$`))

/**
 * The id the hub gave, or will give, to a stream's n-th event, for a cursor.
 *
 * @param hub - the hub
 * @param stream - a stream with at least one event
 * @param n - the sequence number
 * @returns the id
 */
export async function idOf(hub: Pick<Hub, 'snapshot'>, stream: string, n: number): Promise<string> {
  const last = (await hub.snapshot(stream)).lastEventId
  if (last === null) throw new Error(`stream ${stream} has no event yet`)
  return `${last.slice(0, last.indexOf('-'))}-${n}`
}
