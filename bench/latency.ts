/**
 * The latency scenario: runs of the 3-step chain arrive at a fixed rate
 * (open loop: run i is started at t0 + i / rate, whether or not the earlier
 * ones have finished) while one idle `startWorker` with its default options
 * waits for them, woken by LISTEN. Reads from the tables (server clock):
 *
 * - per step, ready → started: a task's started_at − its queued_at (queued_at
 *   is the start of the transaction that made the step ready: start_flow for
 *   the first step, the completion of the previous step for the others);
 * - per run, start → complete: completed_at − started_at.
 *
 * Every run must complete with each task done exactly once in one attempt.
 */
import pg from 'pg';
import { silentLogger, type StepContext } from '../src/flow/index.js';
import { startWorker, type WorkerHandle } from '../src/worker/index.js';
import { secondsSince, sleep } from './connections.js';
import { defineFlow, SCENARIOS } from './scenarios.js';
import { scenarioFlow } from './worker-flows.js';
import { WORKER_APPLICATION_NAME } from './worker-drain.js';

export interface Spread {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LatencyResult {
  /** Runs started per second (the target rate) and as achieved. */
  rate: number;
  achievedRate: number;
  runs: number;
  /** Milliseconds, server clock. */
  stepReadyToStarted: Spread;
  runStartToComplete: Spread;
  ok: boolean;
  problems: string[];
}

const START = 'select run_id from pgflow.start_flow($1::text, $2::jsonb)';

export async function measureLatency(url: string, rate: number, seconds: number, timeoutSeconds: number): Promise<LatencyResult> {
  const scenario = SCENARIOS.chain;
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  const starters = new pg.Pool({ connectionString: url, max: 4, application_name: 'pgflow-bench-starter' });
  starters.on('error', () => {});
  const workerPool = new pg.Pool({ connectionString: url, max: 4, application_name: `${WORKER_APPLICATION_NAME}-latency` });
  workerPool.on('error', () => {});
  const seen = new Map<string, number>();
  const flow = scenarioFlow(scenario, (context: StepContext) => {
    const key = `${context.runId}/${context.stepSlug}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  });
  let worker: WorkerHandle | undefined;
  try {
    await defineFlow(setup, scenario);
    worker = await startWorker({ pool: workerPool, flows: [flow], logger: silentLogger, ensureFlows: false, functionName: 'pgflow-bench-latency' });
    // Warm the starters' connections so the first arrivals do not pay for connecting.
    await Promise.all(Array.from({ length: 4 }, () => starters.query('select 1')));
    const runs = Math.max(1, Math.round(rate * seconds));
    const runIds: string[] = [];
    const inFlight: Promise<void>[] = [];
    const began = performance.now();
    for (let i = 0; i < runs; i++) {
      const due = began + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      inFlight.push(
        starters.query<{ run_id: string }>(START, [scenario.flowSlug, JSON.stringify({ n: i })]).then((result) => {
          const id = result.rows[0]?.run_id;
          if (!id) throw new Error('pgflow.start_flow returned no run');
          runIds.push(id);
        }),
      );
    }
    await Promise.all(inFlight);
    const achievedRate = runs / secondsSince(began);
    const expectedTasks = runs * scenario.steps.length;
    const deadline = performance.now() + timeoutSeconds * 1000;
    const stats = worker.stats.bind(worker);
    while (stats().completed < expectedTasks && stats().failed === 0 && performance.now() < deadline) await sleep(5);
    await waitForRuns(setup, runIds, deadline);
    const problems = await verify(setup, runIds, expectedTasks, seen);
    const spreads = await readSpreads(setup, runIds);
    return { rate, achievedRate, runs, ...spreads, ok: problems.length === 0, problems };
  } finally {
    await worker?.stop({ gracePeriod: 1_000 });
    await Promise.all([starters.end(), workerPool.end()].map((closing) => closing.catch(() => {})));
    await setup.end().catch(() => {});
  }
}

/** The worker counts a completion when complete_tasks returns; the run row is final once that commits. */
async function waitForRuns(client: pg.Client, runIds: string[], deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    const row = (await client.query<{ n: number }>("select count(*)::integer as n from pgflow.runs where run_id = any($1::uuid[]) and status <> 'completed'", [runIds])).rows[0];
    if ((row?.n ?? 0) === 0) return;
    await sleep(5);
  }
}

async function verify(client: pg.Client, runIds: string[], expectedTasks: number, seen: Map<string, number>): Promise<string[]> {
  const row = (
    await client.query<{ runs: number; tasks: number }>(
      `select (select count(*)::integer from pgflow.runs where run_id = any($1::uuid[]) and status = 'completed') as runs,
              (select count(*)::integer from pgflow.step_tasks where run_id = any($1::uuid[]) and status = 'completed' and attempts_count = 1) as tasks`,
      [runIds],
    )
  ).rows[0];
  const problems: string[] = [];
  if (row?.runs !== runIds.length) problems.push(`runs completed: ${row?.runs}, expected ${runIds.length}`);
  if (row?.tasks !== expectedTasks) problems.push(`tasks completed in one attempt: ${row?.tasks}, expected ${expectedTasks}`);
  const twice = [...seen.values()].filter((count) => count > 1).length;
  if (twice > 0) problems.push(`tasks whose handler ran more than once: ${twice}`);
  if (seen.size !== expectedTasks) problems.push(`tasks the handlers saw: ${seen.size}, expected ${expectedTasks}`);
  return problems;
}

async function readSpreads(client: pg.Client, runIds: string[]): Promise<Pick<LatencyResult, 'stepReadyToStarted' | 'runStartToComplete'>> {
  const row = (
    await client.query<{ step: number[] | null; step_max: number | null; run: number[] | null; run_max: number | null }>(
      `select
        (select percentile_cont(array[0.5, 0.95, 0.99]) within group (order by extract(epoch from t.started_at - t.queued_at) * 1000)
           from pgflow.step_tasks t where t.run_id = any($1::uuid[])) as step,
        (select max(extract(epoch from t.started_at - t.queued_at) * 1000)::float8 from pgflow.step_tasks t where t.run_id = any($1::uuid[])) as step_max,
        (select percentile_cont(array[0.5, 0.95, 0.99]) within group (order by extract(epoch from r.completed_at - r.started_at) * 1000)
           from pgflow.runs r where r.run_id = any($1::uuid[])) as run,
        (select max(extract(epoch from r.completed_at - r.started_at) * 1000)::float8 from pgflow.runs r where r.run_id = any($1::uuid[])) as run_max`,
      [runIds],
    )
  ).rows[0];
  const spread = (values: number[] | null | undefined, max: number | null | undefined): Spread => ({
    p50: Number(values?.[0] ?? Number.NaN),
    p95: Number(values?.[1] ?? Number.NaN),
    p99: Number(values?.[2] ?? Number.NaN),
    max: Number(max ?? Number.NaN),
  });
  return { stepReadyToStarted: spread(row?.step, row?.step_max), runStartToComplete: spread(row?.run, row?.run_max) };
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '-');

/** One progress line. */
export function describeLatency(l: LatencyResult): string {
  const verdict = l.ok ? 'verified' : `VERIFICATION FAILED: ${l.problems.join('; ')}`;
  return (
    `  latency at ${l.rate} runs/s (${Math.round(l.achievedRate)} achieved, ${l.runs} runs): step ready→started p50 ${ms(l.stepReadyToStarted.p50)} ms, ` +
    `p99 ${ms(l.stepReadyToStarted.p99)} ms; run start→complete p50 ${ms(l.runStartToComplete.p50)} ms — ${verdict}`
  );
}

/** The latency table of the report. */
export function latencyRows(results: LatencyResult[]): string[][] {
  return results.map((l) => [
    `${l.rate}`,
    `${Math.round(l.achievedRate)}`,
    `${l.runs}`,
    ms(l.stepReadyToStarted.p50),
    ms(l.stepReadyToStarted.p95),
    ms(l.stepReadyToStarted.p99),
    ms(l.stepReadyToStarted.max),
    ms(l.runStartToComplete.p50),
    ms(l.runStartToComplete.p95),
    ms(l.runStartToComplete.p99),
    ms(l.runStartToComplete.max),
    l.ok ? 'yes' : 'NO',
  ]);
}
