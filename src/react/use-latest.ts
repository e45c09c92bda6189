import { useInsertionEffect, useRef } from 'react'

/**
 * A ref that always holds the value of the last committed render, for callbacks that must
 * see the latest props without being passed again (an event handler, `start()`'s options).
 * Updated in an insertion effect, which runs before any other effect and never during a
 * render that React may discard.
 *
 * @param value - the value of this render
 * @returns the ref; read `current` in callbacks, never while rendering
 */
export function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value)
  useInsertionEffect(() => {
    ref.current = value
  })
  return ref
}
