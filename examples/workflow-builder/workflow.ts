/** What a node does in the builder's palette: it picks the node's icon and colour on the page. */
export type NodeKind = 'trigger' | 'agent' | 'tool' | 'output'

/** A node of a workflow graph, where the page draws it, and how the simulation plays it. */
export interface WorkflowNode {
  readonly id: string
  readonly name: string
  readonly kind: NodeKind
  /** Top-left corner on the canvas, in pixels. */
  readonly position: { readonly x: number; readonly y: number }
}

/** A connection: `target` starts once every one of its sources has completed. */
export interface WorkflowEdge {
  readonly id: string
  readonly source: string
  readonly target: string
}

/** A workflow as `GET /api/workflows/:id` returns it to the page. */
export interface Workflow {
  readonly id: string
  readonly name: string
  readonly nodes: readonly WorkflowNode[]
  readonly edges: readonly WorkflowEdge[]
}

/**
 * What a node says while the simulation plays it. `sample` is a number in [0, 1) drawn for
 * the node before the run starts, so a seeded run produces the same outputs whatever order
 * its concurrent branches finish in.
 */
export interface NodeScript {
  /** How long the node works at pace 1, in milliseconds, before jitter. */
  readonly baseMs: number
  readonly started: string
  /** One `node.progress` message per step, evenly spaced over the node's duration. */
  readonly progress: readonly string[]
  readonly completed: (sample: number) => { message: string; output: unknown }
  /** The error a simulated failure reports. */
  readonly failure: string
}

const TOPIC = 'real-time collaboration tools'

/**
 * The seeded workflow: a trigger, a research agent, two branches that run side by side
 * (a summary and an entity extraction), and an output node that waits for both.
 */
export const demoWorkflow: Workflow = {
  id: 'demo',
  name: 'Research brief',
  nodes: [
    { id: 'trigger', name: 'Manual trigger', kind: 'trigger', position: { x: 16, y: 96 } },
    { id: 'research', name: 'Research', kind: 'agent', position: { x: 226, y: 96 } },
    { id: 'summarize', name: 'Summarize', kind: 'agent', position: { x: 436, y: 16 } },
    { id: 'extract', name: 'Extract entities', kind: 'tool', position: { x: 436, y: 176 } },
    { id: 'output', name: 'Output', kind: 'output', position: { x: 646, y: 96 } },
  ],
  edges: [
    { id: 'trigger-research', source: 'trigger', target: 'research' },
    { id: 'research-summarize', source: 'research', target: 'summarize' },
    { id: 'research-extract', source: 'research', target: 'extract' },
    { id: 'summarize-output', source: 'summarize', target: 'output' },
    { id: 'extract-output', source: 'extract', target: 'output' },
  ],
}

/** How each node of the demo workflow behaves when simulated. */
export const demoScripts: Readonly<Record<string, NodeScript>> = {
  trigger: {
    baseMs: 300,
    started: 'Received a manual trigger',
    progress: [],
    completed: () => ({ message: `Triggered with topic "${TOPIC}"`, output: { topic: TOPIC } }),
    failure: 'The trigger payload has no topic',
  },
  research: {
    baseMs: 1800,
    started: 'Searching sources',
    progress: ['Querying 3 search providers', 'Reading the top results'],
    completed: (sample) => {
      const documents = 8 + Math.floor(sample * 12)
      return {
        message: 'Research completed successfully',
        output: { result: `Found ${documents} relevant documents`, documents },
      }
    },
    failure: 'Search provider rate limit exceeded (HTTP 429)',
  },
  summarize: {
    baseMs: 1200,
    started: 'Summarizing the documents',
    progress: ['Drafting the summary', 'Tightening the wording'],
    completed: (sample) => {
      const words = 100 + Math.floor(sample * 80)
      return { message: `Summary ready (${words} words)`, output: { words } }
    },
    failure: "The model's context window was exceeded",
  },
  extract: {
    baseMs: 1500,
    started: 'Extracting entities',
    progress: ['Tagging companies and products', 'Removing duplicates'],
    completed: (sample) => {
      const entities = 12 + Math.floor(sample * 20)
      return { message: `Extracted ${entities} entities`, output: { entities } }
    },
    failure: 'The entity list could not be parsed',
  },
  output: {
    baseMs: 500,
    started: 'Assembling the report',
    progress: [],
    completed: () => ({ message: 'Report saved', output: { report: 'research-brief.md', sections: 2 } }),
    failure: 'The report could not be written',
  },
}
