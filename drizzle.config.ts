/**
 * drizzle-kit configuration for pgflow's own migration history.
 *
 * - Package development: `npx drizzle-kit generate` writes the DDL migration for a change to schema.ts.
 * - Apps: `npx drizzle-kit migrate --config node_modules/pgflow-orm/drizzle.config.ts` installs or upgrades
 *   pgflow in the database at `DATABASE_URL`, recorded in `drizzle.__pgflow_migrations`.
 *
 * Paths are resolved from this file, so the config works from any working directory (drizzle-kit
 * wants them relative to the working directory).
 */
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'drizzle-kit';

// drizzle-kit loads this file as CommonJS; other tools may load it as an ES module.
const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  dialect: 'postgresql',
  schema: relative(process.cwd(), join(here, 'schema.ts')) || 'schema.ts',
  out: relative(process.cwd(), join(here, 'migrations')) || 'migrations',
  schemaFilter: ['pgflow'],
  migrations: { table: '__pgflow_migrations', schema: 'drizzle' },
  dbCredentials: { url: process.env.DATABASE_URL ?? '' },
  strict: true,
  verbose: false,
});
