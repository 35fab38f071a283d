import { Migrator } from 'kysely/migration';     // Kysely 0.28: from 'kysely'
import { pgflowMigratorOptions } from 'pgflow-orm/kysely';
import { db } from './db.js';

/**
 * Installs pgflow, or upgrades it after a package upgrade, with its own
 * Migrator and tables (kysely_pgflow_migration, kysely_pgflow_migration_lock);
 * the app's own migrations keep their separate Migrator.
 */
export async function migrate(): Promise<void> {
  const { error, results } = await new Migrator(pgflowMigratorOptions(db)).migrateToLatest();
  for (const result of results ?? []) console.log(`pgflow migration ${result.migrationName}: ${result.status}`);
  if (error) throw error;
}
