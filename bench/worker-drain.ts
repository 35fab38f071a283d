/**
 * The drain phase of the worker protocols: W `startWorker` instances (each
 * with its own pool, as the worker creates by default: up to 4 connections,
 * one of them LISTENing) run the scenario's flow with no-op async handlers
 * until every task of the started runs is stored as completed.
 *
 * The workers start while the flow is paused (pgflow.pause_flow), so their
 * start-up (schema check, registration, LISTEN) stays outside the measured
 * time; the clock starts with pgflow.resume_flow, whose flow:resumed event
 * wakes them, as run:started and step:completed events do in production.
 */
import pg from 'pg';
import { silentLogger, type StepContext } from '../src/flow/index.js';
import { startWorker, type WorkerHandle } from '../src/worker/index.js';
import { ignoreIdleErrors, secondsSince, sleep } from './connections.js';
import type { Scenario } from './scenarios.js';
import { scenarioFlow } from './worker-flows.js';
import type { DrainResult } from './worker-loop.js';

export interface WorkerDrainOptions {
  workers: number;
  concurrency: number;
  batchSize: number;
  expectedTasks: number;
  timeoutSeconds: number;
  /** Called once the drain is over, before the workers stop and close their connections. */
  beforeStop?: () => Promise<void>;
}

/** application_name of the workers' connections; --profile samples the backends whose name starts with pgflow-bench-. */
export const WORKER_APPLICATION_NAME = 'pgflow-bench-worker';

/** A pool that counts the statements sent through it and the claims that came back empty. */
function countingPool(url: string, index: number, counts: { calls: number; emptyPolls: number }): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4, application_name: `${WORKER_APPLICATION_NAME}-${index + 1}` });
  pool.on('error', () => {});
  pool.on('connect', (client) => void ignoreIdleErrors(client as unknown as pg.Client));
  const query = pool.query.bind(pool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>;
  (pool as unknown as { query: typeof query }).query = async (text: string, values?: unknown[]) => {
    counts.calls++;
    const result = await query(text, values);
    if (text.includes('pgflow.claim_tasks') && result.rows.length === 0) counts.emptyPolls++;
    return result;
  };
  return pool;
}

export async function drainWithWorkers(url: string, control: pg.Client, scenario: Scenario, options: WorkerDrainOptions): Promise<DrainResult> {
  const seen = new Set<string>();
  let duplicates = 0;
  const onTask = (context: StepContext) => {
    const key = `${context.runId}/${context.stepSlug}/${context.taskIndex}`;
    if (seen.has(key)) duplicates++;
    else seen.add(key);
  };
  const flow = scenarioFlow(scenario, onTask);
  const counts = { calls: 0, emptyPolls: 0 };
  const pools = Array.from({ length: options.workers }, (_, i) => countingPool(url, i, counts));
  const handles: WorkerHandle[] = [];
  await control.query('select pgflow.pause_flow($1::text)', [scenario.flowSlug]);
  try {
    for (const pool of pools) {
      handles.push(
        await startWorker({
          pool,
          flows: [flow],
          concurrency: options.concurrency,
          batchSize: options.batchSize,
          logger: silentLogger,
          ensureFlows: false,
          functionName: 'pgflow-bench-worker',
        }),
      );
    }
    // Start-up's own claims and polls are not the drain's.
    counts.calls = 0;
    counts.emptyPolls = 0;
    const began = performance.now();
    await control.query('select pgflow.resume_flow($1::text)', [scenario.flowSlug]);
    const deadline = began + options.timeoutSeconds * 1000;
    const completed = () => handles.reduce((sum, handle) => sum + handle.stats().completed, 0);
    const failed = () => handles.reduce((sum, handle) => sum + handle.stats().failed, 0);
    let timedOut = false;
    while (completed() < options.expectedTasks && failed() === 0) {
      if (performance.now() > deadline) {
        timedOut = true;
        break;
      }
      await sleep(1);
    }
    const seconds = secondsSince(began);
    const stats = handles.map((handle) => handle.stats());
    const calls = counts.calls;
    const emptyPolls = counts.emptyPolls;
    await options.beforeStop?.();
    await Promise.all(handles.splice(0).map((handle) => handle.stop({ gracePeriod: 1_000 })));
    const done = stats.reduce((sum, s) => sum + s.completed, 0);
    const claimed = stats.reduce((sum, s) => sum + s.claimed, 0);
    return { seconds, completed: done, calls, emptyPolls, notCompleted: claimed - done, duplicates, timedOut };
  } finally {
    await Promise.all(handles.map((handle) => handle.stop({ gracePeriod: 0 })));
    await Promise.all(pools.map((pool) => pool.end().catch(() => {})));
  }
}
