/**
 * The ids a handler assigns, `<epoch>-<seq>` as the hub's memory broker writes them, counting
 * on across the handler's connections: an attempt that resumes continues the sequence.
 */
export interface IdSequence {
  /**
   * The id of the next event.
   *
   * @returns the id, one sequence number after the largest used so far
   */
  next(): string
  /**
   * The id of a sequence number in this epoch, without using it.
   *
   * @param seq - the sequence number
   * @returns `<epoch>-<seq>`
   */
  idFor(seq: number): string
  /**
   * The sequence number of an id of this epoch.
   *
   * @param id - an event id
   * @returns its sequence number, or undefined for an id of another epoch or form
   */
  seqOf(id: string): number | undefined
  /**
   * Records an id sent explicitly, so later ids count on from it.
   *
   * @param id - the id sent
   */
  note(id: string): void
  /** Starts the sequence over. */
  reset(): void
}

const ID = /^(\d+)-(\d+)$/

/**
 * Creates an id sequence.
 *
 * @param epoch - the first part of every id
 * @returns the sequence, at 0
 */
export function createIdSequence(epoch: string): IdSequence {
  let seq = 0
  const seqOf = (id: string): number | undefined => {
    const match = ID.exec(id)
    if (match?.[1] === undefined || match[2] === undefined) return undefined
    if (match[1].replace(/^0+(?=\d)/, '') !== epoch) return undefined
    const value = Number(match[2])
    return Number.isSafeInteger(value) ? value : undefined
  }
  return {
    next: () => `${epoch}-${++seq}`,
    idFor: (n) => `${epoch}-${n}`,
    seqOf,
    note(id) {
      const value = seqOf(id)
      if (value !== undefined && value > seq) seq = value
    },
    reset() {
      seq = 0
    },
  }
}
