/**
 * `pgflow-orm worker <module>`: runs the step handlers of the flows a module
 * exports, until SIGTERM or SIGINT. The first signal stops claiming and lets
 * running handlers finish within the grace period; a second one aborts them.
 * The process then exits with code 0.
 */
import { Option, type Command } from 'commander';
import { FlowDriftError } from '../../flow/ensure.js';
import { consoleLogger, type LogLevel } from '../../flow/logger.js';
import { runWorker } from '../../worker/signals.js';
import { CliError, resolveDatabaseUrl, type CliCommand } from '../command.js';
import { loadFlows } from './support/flow-module.js';
import { wholeNumber } from './support/options.js';

interface WorkerCommandOptions {
  databaseUrl?: string;
  flow?: string[];
  concurrency?: number;
  batchSize?: number;
  pollInterval?: number;
  heartbeatInterval?: number;
  gracePeriod?: number;
  ensureFlows: 'check' | 'recreate' | 'off';
  workerId?: string;
  logLevel: LogLevel;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const workerCommand: CliCommand = {
  register(program: Command) {
    program
      .command('worker')
      .description("run the step handlers of the flows a module exports, until SIGTERM / SIGINT")
      .argument('<module>', 'a module exporting flows (.js; .ts with tsx installed or under tsx)')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--flow <slug...>', 'serve only these of the module\'s flows')
      .option('-c, --concurrency <n>', 'handlers running at once, across all flows (default 10)', wholeNumber(1))
      .option('--batch-size <n>', 'tasks claimed per database call (default: the concurrency)', wholeNumber(1))
      .option('--poll-interval <ms>', 'milliseconds between fallback polls (default 1000)', wholeNumber(1))
      .option('--heartbeat-interval <ms>', 'milliseconds between heartbeats (default 5000)', wholeNumber(1))
      .option('--grace-period <ms>', 'milliseconds running handlers get to finish after SIGTERM (default 30000)', wholeNumber(0))
      .addOption(
        new Option('--ensure-flows <mode>', 'at start: check the flows against the database and create missing ones (check), recreate differing ones with their runs (recreate, development only), or skip (off)')
          .choices(['check', 'recreate', 'off'])
          .default('check'),
      )
      .option('--worker-id <uuid>', 'the worker id (with several flows, one id per flow is derived from it); random by default')
      .addOption(new Option('--log-level <level>', 'log to stderr from this level up').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'))
      .addHelpText(
        'after',
        '\nExamples:\n' +
          '  DATABASE_URL=postgres://... npx pgflow-orm worker dist/flows.js --concurrency 20\n' +
          '  npx pgflow-orm worker src/flows.ts --flow scrape --ensure-flows off',
      )
      .action(async (module: string, options: WorkerCommandOptions) => {
        const url = resolveDatabaseUrl(options.databaseUrl);
        if (options.workerId !== undefined && !UUID.test(options.workerId)) throw new CliError(`--worker-id must be a UUID (got ${options.workerId})`);
        const flows = await loadFlows(module, options.flow);
        const logger = consoleLogger({ level: options.logLevel });
        // runWorker handles the signals; this only notes that one came (a start cancelled by it is no error).
        let signalled = false;
        const noteSignal = () => (signalled = true);
        process.on('SIGTERM', noteSignal).on('SIGINT', noteSignal);
        try {
          await runWorker({
            connectionString: url,
            flows,
            concurrency: options.concurrency,
            batchSize: options.batchSize,
            pollInterval: options.pollInterval,
            heartbeatInterval: options.heartbeatInterval,
            gracePeriod: options.gracePeriod,
            ensureFlows: options.ensureFlows === 'off' ? false : options.ensureFlows === 'recreate' ? 'recreate' : true,
            workerId: options.workerId,
            logger,
          });
        } catch (error) {
          if (signalled) {
            logger.info('stopped before the worker had started');
            return;
          }
          if (error instanceof FlowDriftError) throw new CliError(error.message.replace('pass { recreate: true }', 'pass --ensure-flows recreate'));
          throw error;
        } finally {
          process.off('SIGTERM', noteSignal).off('SIGINT', noteSignal);
        }
      });
  },
};
