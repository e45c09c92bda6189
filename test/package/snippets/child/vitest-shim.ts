import { expect } from 'vitest'

/**
 * Runs a snippet that is a vitest test file outside a vitest run: each `test` runs at once, in
 * order, with vitest's own `expect`; a failure fails the process.
 */
let queue: Promise<void> = Promise.resolve()

/**
 * Runs a test now, after the ones before it.
 *
 * @param name - the test's name, printed when it fails
 * @param body - the test
 */
export function test(name: string, body: () => unknown): void {
  queue = queue.then(async () => {
    try {
      await body()
    } catch (error) {
      console.error(`test failed: ${name}`)
      throw error
    }
  })
}

export { expect, test as it }
