/**
 * `pgflow-orm status`: what a database's pgflow is doing. The installed
 * version (and whether this pgflow-orm supports it), the flows with their
 * runs by status and their queue depth (visible, in flight, delayed), the
 * paused flows, the schedules (last and next tick), and the workers: live,
 * stale (no heartbeat for `--stale-after` seconds) and stopped. `--json`
 * prints the same as JSON.
 */
import type { Command } from 'commander';
import pg from 'pg';
import { withAccessHint } from '../../core/access.js';
import { toExecutor, type SqlExecutor } from '../../core/connection.js';
import type { QueueDepth } from '../../core/queue-depth.js';
import { pgflowSql } from '../../core/sql-api.js';
import { compareVersions, supportedSchemaVersion } from '../../core/version.js';
import { installedVersion, isPgflowInstalled } from '../../migrations/apply.js';
import { packageVersion } from '../../migrations/index.js';
import { readSchedules } from '../../scheduler/schedules.js';
import { CliError, resolveDatabaseUrl, type CliCommand } from '../command.js';
import { connectionProblem, redactUrl, wholeNumber } from './support/options.js';
import { formatAge, formatDuration, formatTime, plural, printJson, table } from './support/output.js';
import { describeSchedules, formatSchedules, type ScheduleListing } from './schedules.js';

export interface RunCounts {
  started: number;
  completed: number;
  failed: number;
  cancelled: number;
}


export interface FlowStatus {
  slug: string;
  steps: number;
  options: { maxAttempts: number; baseDelay: number; timeout: number };
  /** Since when the flow is paused (workers start none of its tasks), or null. */
  pausedAt: Date | null;
  runs: RunCounts;
  /** null when the flow has no queue. */
  queue: Omit<QueueDepth, 'flowSlug'> | null;
}

export interface WorkerStatus {
  workerId: string;
  queueName: string;
  functionName: string;
  startedAt: Date;
  lastHeartbeatAt: Date;
  /** Seconds since the last heartbeat. */
  heartbeatAgeSeconds: number;
}

export interface StatusReport {
  database: string;
  pgflow: {
    /** `pgflow.version()`, or null when pgflow is not installed. */
    installed: string | null;
    /** The schema version this pgflow-orm works with. */
    supported: string;
    /** The pgflow-orm package version. */
    package: string;
    compatible: boolean;
    problem: 'not-installed' | 'incomplete' | 'older' | 'newer' | null;
  };
  runs: RunCounts;
  flows: FlowStatus[];
  schedules: ScheduleListing[];
  workers: { staleAfterSeconds: number; live: WorkerStatus[]; stale: WorkerStatus[]; stopped: number };
}

async function readFlows(db: SqlExecutor): Promise<FlowStatus[]> {
  const flows = await db.query<{ flow_slug: string; opt_max_attempts: number; opt_base_delay: number; opt_timeout: number; paused_at: Date | null; steps: number }>(
    `select f.flow_slug, f.opt_max_attempts, f.opt_base_delay, f.opt_timeout, f.paused_at,
            (select count(*) from pgflow.steps s where s.flow_slug = f.flow_slug)::int as steps
       from pgflow.flows f
      order by f.flow_slug`,
  );
  const counts = await db.query<{ flow_slug: string; status: string; n: number }>(
    `select flow_slug, status, count(*)::int as n from pgflow.runs group by flow_slug, status`,
  );
  const depths = await pgflowSql(db).queueDepths();
  const depthOf = (slug: string) => {
    const found = depths.find((depth) => depth.flowSlug === slug);
    if (!found) return null;
    const { flowSlug: _, ...depth } = found;
    return depth;
  };
  const result: FlowStatus[] = [];
  for (const flow of flows) {
    const runs: RunCounts = { started: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const row of counts) if (row.flow_slug === flow.flow_slug && row.status in runs) runs[row.status as keyof RunCounts] = row.n;
    result.push({
      slug: flow.flow_slug,
      steps: flow.steps,
      options: { maxAttempts: flow.opt_max_attempts, baseDelay: flow.opt_base_delay, timeout: flow.opt_timeout },
      pausedAt: flow.paused_at === null ? null : new Date(flow.paused_at),
      runs,
      queue: depthOf(flow.flow_slug),
    });
  }
  return result;
}

async function readWorkers(db: SqlExecutor, staleAfterSeconds: number): Promise<StatusReport['workers']> {
  const rows = await db.query<{ worker_id: string; queue_name: string; function_name: string; started_at: Date; last_heartbeat_at: Date; age: number }>(
    `select worker_id::text, queue_name, function_name, started_at, last_heartbeat_at,
            extract(epoch from now() - last_heartbeat_at)::float8 as age
       from pgflow.workers
      where stopped_at is null and deprecated_at is null
      order by queue_name, started_at, worker_id`,
  );
  const [stopped] = await db.query<{ n: number }>(`select count(*)::int as n from pgflow.workers where stopped_at is not null or deprecated_at is not null`);
  const workers = rows.map((row) => ({
    workerId: row.worker_id,
    queueName: row.queue_name,
    functionName: row.function_name,
    startedAt: new Date(row.started_at),
    lastHeartbeatAt: new Date(row.last_heartbeat_at),
    heartbeatAgeSeconds: Math.max(0, Math.round(row.age * 10) / 10),
  }));
  return {
    staleAfterSeconds,
    live: workers.filter((worker) => worker.heartbeatAgeSeconds <= staleAfterSeconds),
    stale: workers.filter((worker) => worker.heartbeatAgeSeconds > staleAfterSeconds),
    stopped: stopped?.n ?? 0,
  };
}

/** Reads the status of pgflow in the database behind `db`. */
export async function readStatus(db: SqlExecutor, options: { database: string; staleAfterSeconds: number }): Promise<StatusReport> {
  const supported = supportedSchemaVersion();
  const pgflow: StatusReport['pgflow'] = { installed: null, supported, package: packageVersion(), compatible: false, problem: 'not-installed' };
  const empty: StatusReport = {
    database: options.database,
    pgflow,
    runs: { started: 0, completed: 0, failed: 0, cancelled: 0 },
    flows: [],
    schedules: [],
    workers: { staleAfterSeconds: options.staleAfterSeconds, live: [], stale: [], stopped: 0 },
  };
  if (!(await isPgflowInstalled(db))) return empty;
  const installed = await installedVersion(db);
  if (installed === undefined) return { ...empty, pgflow: { ...pgflow, problem: 'incomplete' } };
  const order = compareVersions(installed, supported);
  pgflow.installed = installed;
  pgflow.compatible = order === 0;
  pgflow.problem = order < 0 ? 'older' : order > 0 ? 'newer' : null;
  const flows = await readFlows(db);
  const runs: RunCounts = { started: 0, completed: 0, failed: 0, cancelled: 0 };
  for (const flow of flows) for (const key of Object.keys(runs) as (keyof RunCounts)[]) runs[key] += flow.runs[key];
  const snapshot = await readSchedules(db, null);
  const schedules = describeSchedules(snapshot.schedules, snapshot.now);
  return { database: options.database, pgflow, runs, flows, schedules, workers: await readWorkers(db, options.staleAfterSeconds) };
}

const PROBLEMS: Record<NonNullable<StatusReport['pgflow']['problem']>, (report: StatusReport) => string> = {
  'not-installed': () => 'pgflow is not installed in this database; install it with `pgflow-orm migrate` or your migrator (see the README)',
  incomplete: () => 'pgflow is only partly installed in this database (schema "pgflow" exists but pgflow.version() does not)',
  older: (report) => `older than the ${report.pgflow.supported} this pgflow-orm ${report.pgflow.package} works with: upgrade it with the migrator that installed it (e.g. \`pgflow-orm migrate\`)`,
  newer: (report) => `newer than the ${report.pgflow.supported} this pgflow-orm ${report.pgflow.package} works with: upgrade the pgflow-orm package`,
};

const MAX_LISTED_WORKERS = 20;

/** The report as text lines. */
export function formatStatus(report: StatusReport, now = Date.now()): string[] {
  const { pgflow } = report;
  const lines: string[] = [`database  ${report.database}`];
  if (pgflow.installed === null) {
    lines.push(`pgflow    ${PROBLEMS[pgflow.problem ?? 'not-installed'](report)}`);
    return lines;
  }
  lines.push(
    pgflow.compatible
      ? `pgflow    ${pgflow.installed} (supported by this pgflow-orm ${pgflow.package})`
      : `pgflow    ${pgflow.installed}: ${PROBLEMS[pgflow.problem!](report)}`,
  );
  lines.push(`runs      ${report.runs.started} started (running), ${report.runs.completed} completed, ${report.runs.failed} failed, ${report.runs.cancelled} cancelled`);
  lines.push('');
  if (report.flows.length === 0) {
    lines.push('flows     none yet');
  } else {
    lines.push(`flows (${report.flows.length}); queue: visible = ready to be claimed, in flight = being run, delayed = waiting for a retry or start delay`);
    lines.push(
      ...table(
        ['flow', 'steps', 'running', 'completed', 'failed', 'visible', 'in flight', 'delayed', 'oldest visible'],
        report.flows.map((flow) => [
          flow.slug,
          String(flow.steps),
          String(flow.runs.started),
          String(flow.runs.completed),
          String(flow.runs.failed),
          flow.queue ? String(flow.queue.visible) : 'no queue',
          flow.queue ? String(flow.queue.inFlight) : '-',
          flow.queue ? String(flow.queue.delayed) : '-',
          flow.queue?.oldestVisibleSeconds != null ? formatDuration(flow.queue.oldestVisibleSeconds * 1000) : '-',
        ]),
      ),
    );
  }
  const paused = report.flows.filter((flow) => flow.pausedAt !== null);
  if (paused.length > 0) {
    lines.push(`paused    ${paused.map((flow) => `${flow.slug} (since ${formatTime(flow.pausedAt)} UTC)`).join(', ')}: workers start none of their tasks`);
  }
  lines.push('');
  const unreadable = report.schedules.filter((schedule) => schedule.problem !== null).length;
  if (report.schedules.length === 0) {
    lines.push('schedules none');
  } else {
    lines.push(`schedules ${report.schedules.length}${unreadable > 0 ? ` (${unreadable} cannot be read by the scheduler)` : ''}`);
    lines.push(...formatSchedules(report.schedules, '  '));
  }
  lines.push('');
  const { workers } = report;
  lines.push(
    `workers   ${workers.live.length} live, ${workers.stale.length} stale (no heartbeat for more than ${workers.staleAfterSeconds} s), ${workers.stopped} stopped`,
  );
  const listed = [...workers.live.map((worker) => ['live', worker] as const), ...workers.stale.map((worker) => ['stale', worker] as const)];
  if (listed.length > 0) {
    lines.push(
      ...table(
        ['state', 'worker id', 'queue', 'function', 'started', 'last heartbeat'],
        listed.slice(0, MAX_LISTED_WORKERS).map(([state, worker]) => [
          state,
          worker.workerId,
          worker.queueName,
          worker.functionName,
          formatAge(worker.startedAt, now),
          formatAge(worker.lastHeartbeatAt, now),
        ]),
      ),
    );
    if (listed.length > MAX_LISTED_WORKERS) lines.push(`  ... and ${plural(listed.length - MAX_LISTED_WORKERS, 'more worker')} (see --json)`);
  }
  return lines;
}

export const statusCommand: CliCommand = {
  register(program: Command) {
    program
      .command('status')
      .description('the installed pgflow version, flows with their runs and queue depth, and live and stale workers')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--stale-after <seconds>', 'a worker without a heartbeat for this long counts as stale', wholeNumber(1), 60)
      .option('--json', 'print JSON')
      .action(async (options: { databaseUrl?: string; staleAfter: number; json?: boolean }) => {
        const url = resolveDatabaseUrl(options.databaseUrl);
        const client = new pg.Client({ connectionString: url, application_name: 'pgflow-orm status' });
        try {
          await client.connect();
        } catch (error) {
          throw connectionProblem(error, url);
        }
        let report: StatusReport;
        try {
          report = await withAccessHint(client, 'reader', 'read the pgflow status', () =>
            readStatus(toExecutor(client), { database: redactUrl(url), staleAfterSeconds: options.staleAfter }),
          );
        } finally {
          await client.end().catch(() => {});
        }
        if (options.json) printJson(report);
        else if (report.pgflow.installed !== null) for (const line of formatStatus(report)) console.log(line);
        if (report.pgflow.installed === null) {
          throw new CliError(report.pgflow.problem === 'incomplete' ? PROBLEMS.incomplete(report) : PROBLEMS['not-installed'](report));
        }
      });
  },
};
