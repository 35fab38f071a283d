/**
 * `pgflow-orm dashboard`: serves the web dashboard (src/dashboard) for a
 * database until SIGINT or SIGTERM. It binds to 127.0.0.1 unless `--host`
 * says otherwise, and offers run-control actions only with
 * `--allow-actions`, and then only to requests from this machine. Its
 * database role needs pgflow's reader access level, and the admin level for
 * the actions; what it lacks is said at start-up.
 */
import type { IncomingMessage } from 'node:http';
import type { Command } from 'commander';
import pg from 'pg';
import { accessError, isPermissionDenied } from '../../core/access.js';
import { toExecutor } from '../../core/connection.js';
import { consoleLogger } from '../../flow/logger.js';
import { CliError, resolveDatabaseUrl, type CliCommand } from '../command.js';
import { connectionProblem, redactUrl, wholeNumber } from './support/options.js';

interface DashboardCommandOptions {
  databaseUrl?: string;
  port: number;
  host: string;
  allowActions?: boolean;
}


/** Waits for SIGINT or SIGTERM and resolves with its name. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  });
}

export const dashboardCommand: CliCommand = {
  register(program: Command) {
    program
      .command('dashboard')
      .description('serve the web dashboard: flows as graphs, runs as timelines, live')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('-p, --port <n>', 'port to listen on (0: any free port)', wholeNumber(0), 4000)
      .option('--host <address>', 'address to bind; the default serves this machine only', '127.0.0.1')
      .option('--allow-actions', "offer cancel / retry / pause / resume (the database role needs pgflow's admin level), to requests from this machine only")
      .addHelpText(
        'after',
        [
          '',
          'The dashboard has no login of its own: anyone who can reach the address can see your runs,',
          'their inputs and outputs. Keep the default host (127.0.0.1) or put it behind your own access control.',
          'Stop it with Ctrl-C.',
        ].join('\n'),
      )
      .action(async (options: DashboardCommandOptions) => {
        // Loaded here, so that the other commands start without the dashboard's modules.
        const { readPgflowInfo } = await import('../../dashboard/server/queries/pgflow-info.js');
        const { readActions } = await import('../../dashboard/server/actions.js');
        const { isLoopback, serveDashboard } = await import('../../dashboard/server/serve.js');
        /** A request from this machine: the only ones allowed to run actions from the CLI's dashboard. */
        const fromThisMachine = (req: IncomingMessage) => isLoopback(req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '');
        const url = resolveDatabaseUrl(options.databaseUrl);
        const client = new pg.Client({ connectionString: url, application_name: 'pgflow-orm dashboard' });
        try {
          await client.connect();
        } catch (error) {
          throw connectionProblem(error, url);
        }
        let installed: string | null;
        /** Why actions cannot run with this role or database, when they are allowed. */
        let unavailable: string[] = [];
        try {
          const executor = toExecutor(client);
          installed = (await readPgflowInfo(executor)).installed;
          if (installed !== null && options.allowActions) {
            const actions = await readActions(executor, true);
            unavailable = [...new Set(actions.actions.map((action) => action.unavailableReason).filter((reason): reason is string => reason !== null))];
          }
        } catch (error) {
          if (!isPermissionDenied(error)) throw error;
          throw new CliError(((await accessError(client, error, 'reader', 'read what the dashboard shows')) as Error).message);
        } finally {
          await client.end().catch(() => {});
        }
        if (installed === null) throw new CliError(`pgflow is not installed in ${redactUrl(url)}; install it with \`pgflow-orm migrate\` or your migrator`);
        const dashboard = await serveDashboard({
          connectionString: url,
          port: options.port,
          host: options.host,
          allowActions: options.allowActions === true,
          authorize: (req, access) => access.kind === 'view' || fromThisMachine(req),
          logger: consoleLogger({ level: 'warn', prefix: 'pgflow-orm dashboard' }),
        }).catch((error: unknown) => {
          const code = (error as { code?: string }).code;
          if (code === 'EADDRINUSE') throw new CliError(`cannot listen on ${options.host}:${options.port}: the port is in use (pick another with --port)`);
          if (code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new CliError(`cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`);
          throw error;
        });
        // Listening for the signal before saying that Ctrl-C stops it: a signal sent on reading that line finds the
        // handler in place.
        const stopped = untilSignal();
        console.log(`pgflow dashboard: ${dashboard.url}`);
        console.log(`  database ${redactUrl(url)}, pgflow ${installed}${options.allowActions ? '; actions allowed from this machine' : ''}`);
        for (const reason of unavailable) console.log(`  actions unavailable: ${reason}`);
        if (!isLoopback(options.host)) console.log(`  warning: listening on ${options.host}, so other machines can reach it; the dashboard has no login of its own`);
        console.log('  Ctrl-C stops it');
        const signal = await stopped;
        console.log(`${signal} received: stopping the dashboard`);
        await dashboard.close();
      });
  },
};
