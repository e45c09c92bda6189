import { createHub } from '../../../../src/server/index.js'

/** The module a Next.js app keeps its hub in (`@/lib/hub` in the docs), shared by every route. */
export const hub = createHub()
