import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareEventIds, isSeenEventId } from '../../src/core/index.js'

describe('compareEventIds', () => {
  // Ids as a broker writes them, and as a careless client might send them back (leading zeros).
  const digits = fc.stringMatching(/^[0-9]{1,20}$/)
  const eventId = fc.oneof(
    digits,
    fc.tuple(digits, digits).map(([time, sequence]) => `${time}-${sequence}`),
  )
  const numbersOf = (id: string): [bigint, bigint] => {
    const [time = '0', sequence = '0'] = id.split('-')
    return [BigInt(time), BigInt(sequence)]
  }

  it('orders any two well-formed ids as their numbers do', () => {
    fc.assert(
      fc.property(eventId, eventId, (a, b) => {
        const [timeA, sequenceA] = numbersOf(a)
        const [timeB, sequenceB] = numbersOf(b)
        const expected =
          timeA === timeB ? Math.sign(Number(sequenceA - sequenceB)) : Math.sign(Number(timeA - timeB))
        expect(Math.sign(compareEventIds(a, b))).toBe(expected)
      }),
      { numRuns: 2_000 },
    )
  })

  it.each([
    ['1', '2', -1],
    ['2', '1', 1],
    ['9', '10', -1],
    ['10', '9', 1],
    ['42', '42', 0],
    ['007', '7', 0],
    ['0', '00', 0],
  ])('orders hub counters by value: %s vs %s', (a, b, sign) => {
    expect(Math.sign(compareEventIds(a, b))).toBe(sign)
  })

  it('orders counters past 2^53 exactly, without going through numbers', () => {
    expect(Math.sign(compareEventIds('9007199254740993', '9007199254740992'))).toBe(1)
    expect(
      Math.sign(compareEventIds('123456789012345678901234567890', '123456789012345678901234567891')),
    ).toBe(-1)
  })

  it.each([
    ['1700000000000-0', '1700000000000-1', -1],
    ['1700000000000-10', '1700000000000-9', 1],
    ['1700000000001-0', '1700000000000-99', 1],
    ['1700000000000-5', '1700000000000-5', 0],
    ['1700000000000', '1700000000000-0', 0],
    ['1700000000000', '1700000000000-1', -1],
  ])('orders Redis stream ids by time, then sequence: %s vs %s', (a, b, sign) => {
    expect(Math.sign(compareEventIds(a, b))).toBe(sign)
  })

  it.each([
    ['abc', 'abd'],
    ['1', 'x'],
    ['', '1'],
    ['-1', '1'],
    ['1.5', '2'],
    ['1-2-3', '1'],
  ])('reports %j and %j as unordered (NaN)', (a, b) => {
    expect(compareEventIds(a, b)).toBeNaN()
  })

  it('reports identical opaque ids as equal', () => {
    expect(compareEventIds('abc', 'abc')).toBe(0)
  })
})

describe('isSeenEventId', () => {
  it('has seen nothing before the first event', () => {
    expect(isSeenEventId('1', null)).toBe(false)
    expect(isSeenEventId('1', undefined)).toBe(false)
  })

  it('has seen ids up to and including the last one delivered', () => {
    expect(isSeenEventId('4', '5')).toBe(true)
    expect(isSeenEventId('5', '5')).toBe(true)
    expect(isSeenEventId('6', '5')).toBe(false)
    expect(isSeenEventId('1700000000000-1', '1700000000000-2')).toBe(true)
  })

  it('treats an id it cannot order as new, so no event is dropped by mistake', () => {
    expect(isSeenEventId('b', 'a')).toBe(false)
    expect(isSeenEventId('a', 'a')).toBe(true)
  })
})
