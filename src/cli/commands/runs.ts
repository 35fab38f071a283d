/**
 * `pgflow-orm runs`: lists runs, newest first (`--flow`, `--status`,
 * `--limit`); `pgflow-orm runs show <run_id>` shows one run with its input,
 * output, step states (a skipped step with the reason) and tasks (one per
 * array element for map steps; attempts, errors). `--json` for both.
 * `runs cancel <run_id> [--reason]` and `runs retry <run_id>` operate a run;
 * when there is nothing to do they say why and exit with 2.
 */
import { Option, type Command } from 'commander';
import type pg from 'pg';
import { cancelRun, retryRun } from '../../client/control.js';
import { getRun, listRuns, RunNotFoundError, type RunDetails, type TypedRun } from '../../client/runs.js';
import { pgflowSql } from '../../core/sql-api.js';
import { RUN_STATUSES, type RunStatus, type SkipReason, type StepStateRow } from '../../core/types.js';
import { CliError, NOTHING_TO_DO, type CliCommand } from '../command.js';
import { withDatabase } from './support/database.js';
import { wholeNumber } from './support/options.js';
import { formatDuration, formatTime, oneLine, printJson, shortJson, table } from './support/output.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const withClient = <T>(databaseUrl: string | undefined, use: (client: pg.Client) => Promise<T>) => withDatabase(databaseUrl, 'pgflow-orm runs', use);

/** Finished runs: from start to completion, failure or cancellation; running ones: so far. */
function runDuration(run: { startedAt: Date; completedAt: Date | null; failedAt: Date | null; cancelledAt?: Date | null }, now: number): string {
  const end = run.completedAt ?? run.failedAt ?? run.cancelledAt ?? null;
  return end ? formatDuration(end.getTime() - run.startedAt.getTime()) : `${formatDuration(now - run.startedAt.getTime())} so far`;
}

export function formatRunList(runs: readonly TypedRun[], now = Date.now()): string[] {
  if (runs.length === 0) return ['no runs'];
  return table(
    ['run id', 'flow', 'status', 'started (UTC)', 'duration', 'steps left'],
    runs.map((run) => [run.runId, run.flowSlug, run.status, formatTime(run.startedAt), runDuration(run, now), run.status === 'started' ? String(run.remainingSteps) : '-']),
    '',
  );
}

const SKIP_REASON_TEXT: Record<SkipReason, string> = {
  condition_unmet: 'condition not met',
  handler_failed: 'its task failed its last attempt',
  dependency_skipped: 'a step it depends on was skipped',
};

/** A step's status; a skipped step's says why (the run went on without it). */
function stepStatus(step: StepStateRow): string {
  if (step.status !== 'skipped') return step.status;
  return step.skipReason ? `skipped: ${SKIP_REASON_TEXT[step.skipReason] ?? step.skipReason}` : 'skipped';
}

const elapsed = (from: Date | null, to: Date | null) => (from && to ? formatDuration(to.getTime() - from.getTime()) : '-');

export function formatRunDetails(details: RunDetails, now = Date.now()): string[] {
  const { run, steps, tasks } = details;
  const lines = [
    `run       ${run.runId}`,
    `flow      ${run.flowSlug}`,
    `status    ${run.status}${run.status === 'started' ? ` (${run.remainingSteps} step${run.remainingSteps === 1 ? '' : 's'} left)` : ''}`,
    `started   ${formatTime(run.startedAt)} UTC`,
  ];
  if (run.completedAt) lines.push(`completed ${formatTime(run.completedAt)} UTC, after ${runDuration(run, now)}`);
  if (run.failedAt) lines.push(`failed    ${formatTime(run.failedAt)} UTC, after ${runDuration(run, now)}`);
  if (run.cancelledAt) lines.push(`cancelled ${formatTime(run.cancelledAt)} UTC, after ${runDuration(run, now)}${run.cancelReason ? `: ${oneLine(run.cancelReason, 200)}` : ''}`);
  if (run.status === 'started') lines.push(`running   for ${runDuration(run, now)}`);
  lines.push(`input     ${shortJson(run.input, 200)}`);
  if (run.status === 'completed') lines.push(`output    ${shortJson(run.output, 200)}`);
  lines.push('', 'steps');
  lines.push(
    ...table(
      ['step', 'status', 'started (UTC)', 'took', 'error'],
      steps.map((step) => [
        step.stepSlug,
        stepStatus(step),
        formatTime(step.startedAt),
        elapsed(step.startedAt, step.completedAt ?? step.failedAt ?? step.skippedAt),
        oneLine(step.errorMessage, 80),
      ]),
    ),
  );
  lines.push('', 'tasks');
  lines.push(
    ...table(
      ['step', 'task', 'status', 'attempts', 'queued (UTC)', 'took', 'worker', 'last error'],
      tasks.map((task) => [
        task.stepSlug,
        String(task.taskIndex),
        task.status,
        String(task.attemptsCount),
        formatTime(task.queuedAt),
        elapsed(task.startedAt, task.completedAt ?? task.failedAt),
        task.lastWorkerId ? task.lastWorkerId.slice(0, 8) : '-',
        oneLine(task.errorMessage, 80),
      ]),
    ),
  );
  return lines;
}

const checkRunId = (runId: string) => {
  if (!UUID.test(runId)) throw new CliError(`${JSON.stringify(runId)} is not a run id (a UUID)`);
};

/** The run's status, for saying why there was nothing to do. */
async function statusOf(client: pg.Client, runId: string): Promise<string> {
  return String((await pgflowSql(client).getRunWithStates(runId))?.run.status ?? 'gone');
}

/** An unknown run as a one-line error. */
async function knownRun<T>(runId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RunNotFoundError) throw new CliError(error.message);
    throw error;
  }
}

interface ListOptions {
  databaseUrl?: string;
  flow?: string;
  status?: RunStatus;
  limit: number;
  json?: boolean;
}

export const runsCommand: CliCommand = {
  register(program: Command) {
    const runs = program
      .command('runs')
      .description('list runs (`runs`), show one with its steps and tasks (`runs show <run_id>`), cancel or retry one')
      .addHelpText('after', '\nWithout a subcommand, `runs` lists runs: see `pgflow-orm runs list --help` for its options.');

    runs
      .command('list', { isDefault: true })
      .description('list runs, newest first')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--flow <slug>', 'only runs of this flow')
      .addOption(new Option('--status <status>', 'only runs with this status').choices([...RUN_STATUSES]))
      .option('-l, --limit <n>', 'at most this many runs', wholeNumber(1), 20)
      .option('--json', 'print JSON')
      .action(async (options: ListOptions) => {
        const list = await withClient(options.databaseUrl, (client) => listRuns(client, { flow: options.flow, status: options.status, limit: options.limit }));
        if (options.json) printJson(list);
        else for (const line of formatRunList(list)) console.log(line);
      });

    runs
      .command('show')
      .description('show one run: input, output, step states and tasks with their attempts and errors')
      .argument('<run_id>', 'the run id (a UUID)')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--json', 'print JSON')
      .action(async (runId: string, options: { databaseUrl?: string; json?: boolean }) => {
        checkRunId(runId);
        const details = await withClient(options.databaseUrl, (client) => getRun(client, runId));
        if (!details) throw new CliError(`run ${runId} does not exist`);
        if (options.json) printJson(details);
        else for (const line of formatRunDetails(details)) console.log(line);
      });

    runs
      .command('cancel')
      .description('cancel a started run: its unfinished steps and tasks stop, and workers abort its running handlers')
      .argument('<run_id>', 'the run id (a UUID)')
      .option('--reason <text>', 'why (kept in pgflow.runs.cancel_reason and sent with run:cancelled)')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--json', 'print the cancelled run as JSON')
      .action(async (runId: string, options: { reason?: string; databaseUrl?: string; json?: boolean }) => {
        checkRunId(runId);
        await withClient(options.databaseUrl, async (client) => {
          const run = await knownRun(runId, () => cancelRun(client, runId, options.reason));
          if (!run) throw new CliError(`run ${runId} is already ${await statusOf(client, runId)}; nothing to cancel`, { exitCode: NOTHING_TO_DO });
          if (options.json) printJson(run);
          else console.log(`cancelled run ${runId} of flow ${run.flowSlug}${run.cancelReason ? ` (${oneLine(run.cancelReason, 200)})` : ''}`);
        });
      });

    runs
      .command('retry')
      .description('start a failed or cancelled run again from where it stopped (completed steps keep their outputs)')
      .argument('<run_id>', 'the run id (a UUID)')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--json', 'print the retried run as JSON')
      .action(async (runId: string, options: { databaseUrl?: string; json?: boolean }) => {
        checkRunId(runId);
        await withClient(options.databaseUrl, async (client) => {
          const run = await knownRun(runId, () => retryRun(client, runId));
          if (!run) throw new CliError(`run ${runId} is ${await statusOf(client, runId)}; only a failed or cancelled run can be retried`, { exitCode: NOTHING_TO_DO });
          if (options.json) printJson(run);
          else console.log(`retrying run ${runId} of flow ${run.flowSlug}: ${run.remainingSteps} step${run.remainingSteps === 1 ? '' : 's'} to run again`);
        });
      });
  },
};
