/**
 * `pgflow-orm scheduler`: fires the ticks of every schedule in the database
 * (or of `--flow` flows) until SIGTERM / SIGINT, exactly once across however
 * many schedulers and workers with `schedules: true` run (see
 * src/scheduler/scheduler.ts). It checks the installed pgflow version first;
 * after that, a lost database is logged and retried. Exits with 0 when
 * stopped by a signal.
 */
import { Option, type Command } from 'commander';
import { assertCompatibleSchema } from '../../core/version.js';
import { consoleLogger, type LogLevel } from '../../flow/logger.js';
import { startScheduler } from '../../scheduler/scheduler.js';
import { resolveDatabaseUrl, type CliCommand } from '../command.js';
import { withDatabase } from './support/database.js';
import { wholeNumber } from './support/options.js';

interface SchedulerCommandOptions {
  databaseUrl?: string;
  catchUp: number;
  flow?: string[];
  refreshInterval: number;
  logLevel: LogLevel;
}

export const schedulerCommand: CliCommand = {
  register(program: Command) {
    program
      .command('scheduler')
      .description('fire the ticks of the schedules in the database (exactly once across all schedulers), until SIGTERM / SIGINT')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--catch-up <n>', 'after downtime, fire at most the n latest missed ticks of each schedule', wholeNumber(1), 1)
      .option('--flow <slug...>', 'only the schedules of these flows (default: all)')
      .option('--refresh-interval <ms>', 'read the schedules table at least this often, to see new, changed and removed schedules', wholeNumber(1), 15_000)
      .addOption(new Option('--log-level <level>', 'log to stderr from this level up').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'))
      .addHelpText('after', '\nExample:\n  DATABASE_URL=postgres://... npx pgflow-orm scheduler --catch-up 3')
      .action(async (options: SchedulerCommandOptions) => {
        const url = resolveDatabaseUrl(options.databaseUrl);
        // A database without pgflow (or with a version this package does not support) is an error at once, not a retry loop.
        await withDatabase(url, 'pgflow-orm scheduler', (client) => assertCompatibleSchema(client));
        const logger = consoleLogger({ level: options.logLevel });
        const stop = new AbortController();
        const onSignal = (signal: NodeJS.Signals) => {
          logger.info(`${signal} received: stopping`);
          stop.abort();
        };
        process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
        try {
          const scheduler = await startScheduler({
            connectionString: url,
            catchUp: options.catchUp,
            flows: options.flow,
            refreshInterval: options.refreshInterval,
            logger,
            signal: stop.signal,
          });
          await scheduler.done;
        } finally {
          process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
        }
      });
  },
};
