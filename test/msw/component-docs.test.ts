import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** Where the guide's imports of the package point in this repository's tests. */
const SOURCES: Record<string, string> = {
  taskwire: '../../src/core/index.js',
  'taskwire/client': '../../src/client/index.js',
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

/** The first block of a language after a heading of a guide, its imports pointed at src/. */
function blockAfter(guide: string, heading: string, language: string): string {
  const text = readFileSync(join(root, guide), 'utf8')
  const block = new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(
    text.slice(text.indexOf(heading)),
  )?.[1]
  expect(block).toBeDefined()
  return (block ?? '').replace(
    /from '(taskwire(?:\/[a-z]+)?)'/g,
    (_whole, specifier: string) => `from '${SOURCES[specifier] ?? specifier}'`,
  )
}

describe('the tests the guides show are the tests the suite runs', () => {
  it('docs/testing.md: testing a component', () => {
    const test = readFileSync(join(root, 'test/msw/component.test.tsx'), 'utf8')
    expect(parts(blockAfter('docs/testing.md', '## Testing a component', 'tsx'))).toEqual(parts(test))
  })

  it('docs/troubleshooting.md: reproducing a buffering proxy', () => {
    const test = readFileSync(join(root, 'test/msw/buffered-stream.test.ts'), 'utf8')
    const block = blockAfter('docs/troubleshooting.md', '### Reproduce a buffering proxy in a test', 'ts')
    expect(parts(block)).toEqual(parts(test))
  })
})
