import type { Variant } from './variant.js'

/** The variants, in the order they run and are reported; the first is the baseline. */
export const VARIANT_NAMES = [
  'reference-batched',
  'reference-plain',
  'taskwire',
  'better-sse',
  'hono-streamSSE',
] as const

/** A variant's name. */
export type VariantName = (typeof VARIANT_NAMES)[number]

// Loaded on demand, so a server process imports only the library it measures.
const loaders: Record<VariantName, () => Promise<{ createVariant: () => Variant }>> = {
  'reference-batched': () => import('./variants/reference-batched.js'),
  'reference-plain': () => import('./variants/reference-plain.js'),
  taskwire: () => import('./variants/taskwire.js'),
  'better-sse': () => import('./variants/better-sse.js'),
  'hono-streamSSE': () => import('./variants/hono-stream-sse.js'),
}

/**
 * Tells whether a string names a variant.
 *
 * @param name - a name from the command line
 * @returns true for a known variant
 */
export function isVariantName(name: string): name is VariantName {
  return (VARIANT_NAMES as readonly string[]).includes(name)
}

/**
 * Creates a variant.
 *
 * @param name - which one
 * @returns its server and publish function
 */
export async function createVariant(name: VariantName): Promise<Variant> {
  const module = await loaders[name]()
  return module.createVariant()
}
