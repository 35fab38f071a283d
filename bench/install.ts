/**
 * Prepares the template every benchmark database is copied from: pgflow
 * installed with the package's real migrations (drizzle-orm's migrator, as an
 * app would run it) and the scenario flows defined.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { migratePgflow } from '../src/drizzle/migrate.js';
import { defineFlow, type Scenario } from './scenarios.js';
import { withClient } from './server.js';

export interface InstallFacts {
  pgflowVersion: string;
  /** "pgmq extension <version>" or "built-in pgmq-compatible queue". */
  queue: string;
}

export async function installTemplate(url: string, scenarios: Scenario[], options: { profile: boolean }): Promise<InstallFacts> {
  return withClient(url, async (client) => {
    await migratePgflow(drizzle(client));
    for (const scenario of scenarios) await defineFlow(client, scenario);
    if (options.profile) await client.query('create extension if not exists pg_stat_statements');
    const version = (await client.query<{ v: string }>('select pgflow.version() as v')).rows[0]?.v ?? '?';
    const pgmq = (await client.query<{ extversion: string }>(`select extversion from pg_extension where extname = 'pgmq'`)).rows[0];
    return { pgflowVersion: version, queue: pgmq ? `pgmq extension ${pgmq.extversion}` : 'built-in pgmq-compatible queue' };
  });
}
