import { existsSync, readFileSync, writeFileSync } from 'node:fs'

const START = '<!-- bench:fanout-peers:start -->'
const END = '<!-- bench:fanout-peers:end -->'

/**
 * Replaces the text between the fan-out markers of a Markdown file with a report.
 *
 * @param path - the Markdown file
 * @param report - the new text
 * @returns what happened, to print
 */
export function writeReport(path: string, report: string): string {
  if (!existsSync(path)) return `Not written: ${path} does not exist.`
  const text = readFileSync(path, 'utf8')
  const start = text.indexOf(START)
  const end = text.indexOf(END)
  if (start === -1 || end < start) return `Not written: ${path} has no ${START} … ${END} block.`
  writeFileSync(path, `${text.slice(0, start + START.length)}\n${report.trim()}\n${text.slice(end)}`)
  return `Written to ${path}.`
}
