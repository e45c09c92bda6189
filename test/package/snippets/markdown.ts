/**
 * The code blocks of the user docs, and the marker before each that says how its test treats
 * it. A ```ts or ```tsx block must follow a marker, an HTML comment (invisible on GitHub and
 * in the generated docs):
 *
 * ```md
 * <!-- snippet: run -->                  runs as a module and must exit with code 0
 * <!-- snippet: run in express
 * GET /api/jobs/job-7/events -> 200 retry:
 * POST /api/hooks/jobs/job-7 {"type":"x"} authorization=Bearer-u1 -> 400 invalid-event
 * SIGTERM -> exit 0
 * -->                                    runs, listens, and answers each request as written
 * <!-- snippet: typecheck in bun: needs the Bun runtime -->
 * ```
 *
 * `in <context>` names the setup a fragment needs (an `app`, a `hub`; see contexts.ts).
 * `typecheck` is for fragments that cannot run here, and must say why after a colon.
 */

/** A request the test sends to a snippet that listens, and what the answer must be. */
export interface SnippetRequest {
  readonly method: string
  readonly path: string
  /** A JSON body, sent with `Content-Type: application/json`. */
  readonly body: string | undefined
  /** Request headers, written `name=value` after the body (no spaces in the value). */
  readonly headers: Readonly<Record<string, string>>
  readonly status: number
  /** Text the first bytes of the answer must contain. */
  readonly text: string | undefined
}

/** One step of a snippet's driver: a request, or a signal after which the process must exit. */
export type SnippetStep =
  | ({ readonly kind: 'request' } & SnippetRequest)
  | { readonly kind: 'signal'; readonly signal: NodeJS.Signals; readonly exitCode: number }

/** A ```ts or ```tsx block of a Markdown file, with its marker. */
export interface Snippet {
  /** `docs/server.md:32`: the file and the line of the opening fence. */
  readonly where: string
  /** `docs-server-md-32`: a name for files made from it. */
  readonly slug: string
  readonly language: 'ts' | 'tsx'
  readonly code: string
  readonly mode: 'run' | 'typecheck'
  readonly context: string | undefined
  /** Why a `typecheck` snippet cannot run. */
  readonly reason: string | undefined
  readonly steps: readonly SnippetStep[]
}

/** A problem with a block's marker, reported by the test. */
export interface MarkerProblem {
  readonly where: string
  readonly problem: string
}

const FENCE = /^```(ts|tsx)[ \t]*$/
const MARKER = /<!--\s*snippet:\s*([\s\S]*?)-->\s*$/
const HEAD = /^(run|typecheck)(?:\s+in\s+([\w-]+))?\s*(?::\s*(.*))?$/
const REQUEST = /^([A-Z]+)\s+(\S+)(?:\s+(\{.*\}))?((?:\s+[\w-]+=\S+)*)\s*->\s*(\d{3})(?:\s+(.+))?$/
const SIGNAL = /^(SIGTERM|SIGINT)\s*->\s*exit\s+(\d+)$/

/** Reads one driver line, or says what is wrong with it. */
function stepOf(line: string): SnippetStep | string {
  const request = REQUEST.exec(line)
  if (request) {
    const [, method = '', path = '', body, headerText = '', status = '0', text] = request
    const headers = Object.fromEntries(
      headerText
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    )
    return { kind: 'request', method, path, body, headers, status: Number(status), text: text?.trim() }
  }
  const signal = SIGNAL.exec(line)
  if (signal) return { kind: 'signal', signal: signal[1] as NodeJS.Signals, exitCode: Number(signal[2]) }
  return `cannot read the driver line "${line}" (METHOD /path [json] [name=value] -> status [text], or SIGTERM -> exit 0)`
}

/**
 * The ```ts and ```tsx blocks of a Markdown file, with their markers, and the problems found in
 * markers (a missing marker, a `typecheck` without a reason, a driver line it cannot read).
 */
export function snippetsOf(
  file: string,
  markdown: string,
): { snippets: Snippet[]; problems: MarkerProblem[] } {
  const lines = markdown.split('\n')
  const snippets: Snippet[] = []
  const problems: MarkerProblem[] = []
  for (let index = 0; index < lines.length; index++) {
    const fence = FENCE.exec(lines[index] ?? '')
    if (!fence) continue
    const start = index
    const body: string[] = []
    for (index++; index < lines.length && lines[index] !== '```'; index++) body.push(lines[index] ?? '')
    const where = `${file}:${start + 1}`
    // The marker ends on the line before the fence, or before one blank line.
    let end = start - 1
    if (lines[end]?.trim() === '') end--
    let first = end
    while (first > 0 && !(lines[first] ?? '').includes('<!--') && end - first < 50) first--
    const marker = MARKER.exec(lines.slice(first, end + 1).join('\n'))
    if (!marker || !(lines[end] ?? '').includes('-->')) {
      problems.push({ where, problem: 'no <!-- snippet: run | typecheck ... --> marker before the block' })
      continue
    }
    const [headLine = '', ...driverLines] = (marker[1] ?? '')
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
    const head = HEAD.exec(headLine)
    if (!head) {
      problems.push({ where, problem: `cannot read the marker "${headLine}"` })
      continue
    }
    const [, mode = 'run', context, reason] = head
    if (mode === 'typecheck' && !reason) {
      problems.push({
        where,
        problem: 'a typecheck-only snippet must say why it cannot run ("typecheck: ...")',
      })
    }
    if (mode === 'typecheck' && driverLines.length > 0) {
      problems.push({ where, problem: 'a typecheck-only snippet has no driver lines' })
    }
    const steps: SnippetStep[] = []
    for (const line of driverLines) {
      const step = stepOf(line)
      if (typeof step === 'string') problems.push({ where, problem: step })
      else steps.push(step)
    }
    snippets.push({
      where,
      slug: `${file.replace(/[^a-z0-9]+/gi, '-')}-${start + 1}`,
      language: fence[1] === 'tsx' ? 'tsx' : 'ts',
      code: `${body.join('\n')}\n`,
      mode: mode === 'typecheck' ? 'typecheck' : 'run',
      context,
      reason,
      steps,
    })
  }
  return { snippets, problems }
}
