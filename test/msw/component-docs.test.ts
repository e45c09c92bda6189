import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** Where the guide's imports of the package point in this repository's tests. */
const SOURCES: Record<string, string> = {
  'taskwire/msw': '../../src/msw/index.js',
  'taskwire/react': '../../src/react/index.js',
}

/** A test file split into its import lines (sorted, as biome orders them by path) and the rest. */
function parts(code: string): { imports: string[]; body: string } {
  const lines = code.trim().split('\n')
  const imports = lines.filter((line) => line.startsWith('import '))
  const body = lines.filter((line) => !line.startsWith('import ')).join('\n')
  return { imports: imports.sort(), body }
}

describe('the component test of docs/testing.md', () => {
  it('is the test the suite runs', () => {
    const guide = readFileSync(join(root, 'docs/testing.md'), 'utf8')
    const block = /```tsx\n([\s\S]*?)```/.exec(guide.slice(guide.indexOf('## Testing a component')))?.[1]
    expect(block).toBeDefined()
    const asInRepository = (block ?? '').replace(
      /from '(taskwire\/[a-z]+)'/g,
      (_whole, specifier: string) => `from '${SOURCES[specifier] ?? specifier}'`,
    )
    const test = readFileSync(join(root, 'test/msw/component.test.tsx'), 'utf8')
    expect(parts(asInRepository)).toEqual(parts(test))
  })
})
