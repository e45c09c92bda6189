import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name))
}

describe('src/client imports', () => {
  it('uses only web-standard APIs and never imports the server layer', async () => {
    const offenders: string[] = []
    for (const file of await sources('src/client')) {
      const text = await readFile(file, 'utf8')
      // Import lines only: `import`, `export`, or the `}` closing a multi-line import; TSDoc
      // examples start with `*` and are skipped.
      for (const match of text.matchAll(/^(?:import|export|\})[^'\n]*from\s+'([^']+)'/gm)) {
        const target = match[1] ?? ''
        const core = target === '../core/index.js' || target === '../../core/index.js'
        const sibling = target.startsWith('./') || (target.startsWith('../') && !target.includes('/', 3))
        const allowed = core || sibling || target === 'eventsource-parser'
        if (!allowed) offenders.push(`${file}: ${target}`)
      }
      if (/\b(process|Buffer|require)\s*[.(]/.test(text)) offenders.push(`${file}: Node global`)
    }
    expect(offenders).toEqual([])
  })

  it('exports what users call, not the internals', async () => {
    const index = await import('../../src/client/index.js')
    expect(Object.keys(index).sort()).toEqual([
      'TaskwireError',
      'TaskwireHttpError',
      'TaskwireValidationError',
      'acquireRun',
      'autoTransport',
      'connect',
      'createRunStore',
      'eventSourceTransport',
      'fetchTransport',
      'isTaskwireError',
      'pollingTransport',
      'shareTabs',
      'webSocketTransport',
    ])
  })
})
