/**
 * `pgflow-orm citus distribute`: turns pgflow installed on a Citus coordinator
 * into a distributed install with `pgflow.distribute_on_citus()` (definitions
 * as reference tables, runs and their states and tasks distributed by run_id).
 * Prints each change; a second call finds nothing to do and says so (exit 0:
 * the database is where it should be). A database without the citus extension
 * is refused with the engine's message.
 */
import type { Command } from 'commander';
import { CliError, type CliCommand } from '../command.js';
import { withDatabase } from './support/database.js';

export const citusCommand: CliCommand = {
  register(program: Command) {
    const citus = program.command('citus').description('run pgflow on a Citus cluster (`citus distribute`)');

    citus
      .command('distribute')
      .description(
        'distribute pgflow installed on a Citus coordinator: flows, steps and deps become reference tables, runs, step states and tasks are distributed by run_id (idempotent)',
      )
      .option('--database-url <url>', 'the coordinator database (default: DATABASE_URL)')
      .action(async (options: { databaseUrl?: string }) => {
        await withDatabase(options.databaseUrl, 'pgflow-orm citus', async (client) => {
          const { rows: found } = await client.query<{ installed: boolean; distribute: boolean }>(
            `select to_regnamespace('pgflow') is not null as installed,
                    to_regprocedure('pgflow.distribute_on_citus()') is not null as distribute`,
          );
          if (!found[0]!.installed) throw new CliError('pgflow is not installed in this database; install it with `pgflow-orm migrate` or your migrator');
          if (!found[0]!.distribute) {
            const { rows } = await client.query<{ version: string | null }>(
              `select case when to_regprocedure('pgflow.version()') is null then null else pgflow.version() end as version`,
            );
            throw new CliError(
              `pgflow ${rows[0]?.version ?? '(unknown version)'} in this database has no pgflow.distribute_on_citus() (added in 0.5.0); upgrade it first with \`pgflow-orm migrate\``,
            );
          }
          let changes: string[];
          try {
            changes = (await client.query<{ change: string }>('select change from pgflow.distribute_on_citus() as change')).rows.map((row) => row.change);
          } catch (error) {
            const code = (error as { code?: string }).code;
            const hint = (error as { hint?: string }).hint;
            if (code === '0A000') throw new CliError(`${(error as Error).message}${hint ? `\n${hint}` : ''}`);
            throw error;
          }
          if (changes.length === 0) {
            console.log('pgflow is already distributed on this Citus cluster; nothing to do');
            return;
          }
          for (const change of changes) console.log(change);
          console.log('pgflow is distributed on this Citus cluster');
        });
      });
  },
};
