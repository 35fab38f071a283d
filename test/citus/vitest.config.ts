import { defineConfig } from 'vitest/config';

/**
 * `npm run test:citus`: the tests against a real Citus cluster (PGFLOW_CITUS_URL, its coordinator). They are
 * not part of `npm test`. Files run one at a time: each creates its own database on every node of the cluster,
 * and the cluster shares the machine with its workers.
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/citus/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // A file whose tests were all skipped or that found no tests must not pass as a green run.
    passWithNoTests: false,
    typecheck: { enabled: false },
  },
});
