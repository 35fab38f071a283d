/**
 * `pgflow-orm migrate`: installs or upgrades pgflow with the package's own
 * history (the same as `migratePgflow(db)` and `drizzle-kit migrate --config
 * node_modules/pgflow-orm/drizzle.config.ts`).
 */
import type { Command } from 'commander';
import { toExecutor } from '../../core/connection.js';
import { applyBundledMigrations } from '../../migrations/apply.js';
import { MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../../migrations/index.js';
import { resolveDatabaseUrl, withPgClient, type CliCommand } from '../command.js';

export const migrateCommand: CliCommand = {
  register(program: Command) {
    program
      .command('migrate')
      .description(`install or upgrade pgflow in a database (recorded in ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE})`)
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .action(async (options: { databaseUrl?: string }) => {
        const url = resolveDatabaseUrl(options.databaseUrl);
        const result = await withPgClient(url, (client) => applyBundledMigrations(toExecutor(client)));
        for (const tag of result.applied) console.log(`applied ${tag}`);
        console.log(result.applied.length === 0 ? `pgflow ${result.version} is up to date` : `pgflow ${result.version} installed`);
      });
  },
};
