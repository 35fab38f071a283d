/**
 * `pgflow-orm uninstall --yes`: removes pgflow (every flow and run with it)
 * from a database installed through the package history: drizzle-kit with
 * the package's config, `migratePgflow`, `pgflow-orm migrate` or the plain
 * SQL files. `pgflow-orm sql --uninstall` prints the same SQL.
 */
import type { Command } from 'commander';
import { isPgflowInstalled } from '../../migrations/apply.js';
import { renderUninstallSql } from '../../migrations/uninstall.js';
import { toExecutor } from '../../core/connection.js';
import { CliError, resolveDatabaseUrl, withPgClient, type CliCommand } from '../command.js';

export const uninstallCommand: CliCommand = {
  register(program: Command) {
    program
      .command('uninstall')
      .description('remove pgflow, with every flow and run, from a database (not for Kysely installs: migrate those down)')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--yes', 'confirm: drop schema pgflow and the task queue')
      .action(async (options: { databaseUrl?: string; yes?: boolean }) => {
        const url = resolveDatabaseUrl(options.databaseUrl);
        if (!options.yes) throw new CliError('uninstall drops schema pgflow with every flow and run, and the task queue; pass --yes to do it');
        await withPgClient(url, async (client) => {
          if (!(await isPgflowInstalled(toExecutor(client)))) {
            console.log('pgflow is not installed in this database; nothing to remove');
            return;
          }
          try {
            await client.query(renderUninstallSql());
          } catch (error) {
            throw new CliError(`nothing was removed: ${(error as Error).message}`);
          }
          console.log('pgflow removed');
        });
      });
  },
};
