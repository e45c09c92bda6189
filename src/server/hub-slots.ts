import { TaskwireHttpError } from '../core/index.js'
import type { Reservation } from './types.js'

/** The limits {@link createSlots} enforces. */
export interface SlotLimits {
  /** Most connections in all. */
  maxConnections: number | false
  /** Most connections of one caller key. */
  maxConnectionsPerKey: number | false
  /** Sent with each 503, as `Retry-After`. */
  retryAfterMs: number
}

/**
 * The connection slots of a hub: every admitted subscription and every reservation holds
 * one, counted in all and per caller key.
 */
export interface Slots {
  /** Slots held. */
  readonly count: number
  /**
   * Takes a slot for a caller.
   *
   * @param key - the caller key, if any
   * @throws {@link taskwire!TaskwireHttpError} 503 `connection-limit` when a limit is reached
   */
  take(key: string | undefined): void
  /**
   * Frees a slot taken for a caller.
   *
   * @param key - the caller key it was taken for
   */
  give(key: string | undefined): void
  /**
   * Takes a slot held by a reservation object, so a subscription can take it over.
   *
   * @param key - the caller key
   * @returns the reservation
   */
  reserve(key: string | undefined): Reservation
  /**
   * Takes over a reservation's slot.
   *
   * @param reservation - a reservation from {@link Slots.reserve}
   * @returns false when it is not one of these slots' live reservations
   */
  takeOver(reservation: Reservation): boolean
}

interface HeldReservation extends Reservation {
  held: boolean
}

/**
 * Creates the slot counter of a hub.
 *
 * @param limits - the connection limits
 * @returns the slots
 */
export function createSlots(limits: SlotLimits): Slots {
  let count = 0
  const perKey = new Map<string, number>()
  const reservations = new WeakSet<HeldReservation>()

  const take = (key: string | undefined): void => {
    if (limits.maxConnections !== false && count >= limits.maxConnections) {
      throw new TaskwireHttpError(
        503,
        `The server holds its maximum of ${limits.maxConnections} connections; retry later.`,
        { code: 'connection-limit', retryAfterMs: limits.retryAfterMs },
      )
    }
    const held = key === undefined ? 0 : (perKey.get(key) ?? 0)
    if (key !== undefined && limits.maxConnectionsPerKey !== false && held >= limits.maxConnectionsPerKey) {
      throw new TaskwireHttpError(
        503,
        `This caller holds its maximum of ${limits.maxConnectionsPerKey} connections; close one or retry later.`,
        { code: 'connection-limit', retryAfterMs: limits.retryAfterMs },
      )
    }
    count++
    if (key !== undefined) perKey.set(key, held + 1)
  }

  const give = (key: string | undefined): void => {
    count--
    if (key === undefined) return
    const held = (perKey.get(key) ?? 1) - 1
    if (held > 0) perKey.set(key, held)
    else perKey.delete(key)
  }

  return {
    get count() {
      return count
    },
    take,
    give,
    reserve(key) {
      take(key)
      const reservation: HeldReservation = {
        key,
        held: true,
        release() {
          if (!reservation.held) return
          reservation.held = false
          give(reservation.key)
        },
      }
      reservations.add(reservation)
      return reservation
    },
    takeOver(reservation) {
      const held = reservation as HeldReservation
      if (!reservations.has(held) || !held.held) return false
      held.held = false
      return true
    },
  }
}
