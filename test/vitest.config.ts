import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The dashboard examples import the package by name, as an app does; in the repository that is its source.
    alias: { 'pgflow-orm/dashboard': new URL('../src/dashboard/index.ts', import.meta.url).pathname },
  },
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // The Citus tests need a cluster: `npm run test:citus` (test/citus/vitest.config.ts).
    exclude: ['**/node_modules/**', 'test/citus/**'],
    globalSetup: ['test/setup/global-setup.ts', 'test/setup/dashboard-assets.ts'],
    // Generous, because many tests run child processes (npm, tsc, the CLI, a browser), which a busy machine slows down.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Test files spend most of their time waiting on PostgreSQL, child processes (npm, tsc, the CLI) and timers,
    // so one more file than there are cores keeps the cores busy.
    maxWorkers: availableParallelism() + 1,
    typecheck: { enabled: false },
  },
});
