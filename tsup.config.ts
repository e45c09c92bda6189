import { defineConfig } from 'tsup';

/** One bundle per entry point; `test/package/exports.test.ts` checks these match `exports`. */
export const entries = {
  index: 'src/core/index.ts',
  server: 'src/server/index.ts',
  client: 'src/client/index.ts',
  react: 'src/react/index.ts',
  vanilla: 'src/vanilla/index.ts',
  msw: 'src/msw/index.ts',
  redis: 'src/redis/index.ts',
} as const;

export default defineConfig({
  entry: entries,
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  splitting: true,
  treeshake: true,
});
