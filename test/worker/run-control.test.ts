/**
 * The worker and run control, against a real database: a cancelled run's
 * running handlers are aborted by the run:cancelled event (the fallback poll
 * is a minute, so nothing else could do it), what they return or throw later
 * is dropped by the engine, the run stays cancelled and nothing is completed
 * twice; a retried run is picked up at once; a paused flow is polled quietly
 * and its tasks run once it is resumed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RunCancelledError } from '../../src/client/runs.js';
import { pgflowSql } from '../../src/core/sql-api.js';
import { Flow } from '../../src/flow/index.js';
import { startWorker, type WorkerHandle, type WorkerOptions } from '../../src/worker/index.js';
import { useTestDatabase } from '../support/database.js';
import { deferred, memoryLogger, sleep, uniqueSlug, waitUntil } from './support.js';

const db = useTestDatabase();
const workers: WorkerHandle[] = [];

async function worker(options: Omit<WorkerOptions, 'connectionString'>): Promise<WorkerHandle> {
  const handle = await startWorker({ connectionString: db.url, pollInterval: 60_000, ...options, logger: options.logger ?? memoryLogger() });
  workers.push(handle);
  return handle;
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((handle) => handle.stop({ gracePeriod: 0 })));
});

const runRow = async (runId: string) =>
  (await db.query<{ status: string; output: unknown }>(`select status, output from pgflow.runs where run_id = $1`, [runId]))[0];
const tasksOf = (runId: string) =>
  db.query<{ step_slug: string; status: string; attempts_count: number; output: unknown }>(
    `select step_slug, status, attempts_count, output from pgflow.step_tasks where run_id = $1 order by step_slug, task_index`,
    [runId],
  );

describe('cancelling a run', () => {
  it.each([
    ['returns an output after the abort', 'returns'],
    ['throws on the abort', 'throws'],
  ])('aborts the running handler within a second; a handler that %s changes nothing', async (_, behaviour) => {
    const slug = uniqueSlug('cancel');
    const started = deferred();
    let abortedAt: number | undefined;
    let reason: unknown;
    const flow = new Flow<{ n: number }>({ slug, timeout: 120 })
      .step({ slug: 'slow' }, async (_input, { signal }) => {
        started.resolve();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        abortedAt = Date.now();
        reason = signal.reason;
        if (behaviour === 'throws') throw signal.reason;
        return { late: true };
      })
      .step({ slug: 'after', dependsOn: ['slow'] }, () => ({ never: true }));
    const logger = memoryLogger();
    const handle = await worker({ flows: [flow], logger });
    const sql = pgflowSql(db.pool);
    const run = await sql.startFlow(slug, { n: 1 });
    await started.promise;

    await sql.cancelRun(run.runId, 'stop it');
    const cancelledAt = Date.now();
    await waitUntil('the handler to be aborted', () => abortedAt !== undefined, 1_000);
    expect(abortedAt! - cancelledAt).toBeLessThan(1_000);
    expect(reason).toBeInstanceOf(RunCancelledError);
    expect(reason).toMatchObject({ runId: run.runId, flowSlug: slug, reason: 'stop it' });

    // The late result reaches the engine, which drops it: the task and the run stay cancelled.
    await waitUntil('the handler to settle', () => handle.stats().running === 0);
    await sleep(100);
    expect(await runRow(run.runId)).toEqual({ status: 'cancelled', output: null });
    expect(await tasksOf(run.runId)).toEqual([{ step_slug: 'slow', status: 'cancelled', attempts_count: 1, output: null }]);
    expect(handle.stats()).toMatchObject({ claimed: 1, completed: 0, failed: 0, cancelled: 1, running: 0 });
    expect(logger.messages('info')).toContain(`run ${run.runId} was cancelled: aborting 1 running handler(s)`);
    expect(logger.messages('error')).toEqual([]);
  });

  it('aborts only the cancelled run’s handlers; the other run completes once', async () => {
    const slug = uniqueSlug('cancel_one');
    const running = new Map<number, { promise: Promise<void>; resolve: (value: void) => void }>();
    const release = deferred();
    const calls: number[] = [];
    const flow = new Flow<{ n: number }>({ slug, timeout: 120 }).step({ slug: 'work' }, async ({ run }, { signal }) => {
      calls.push(run.n);
      running.get(run.n)?.resolve();
      await Promise.race([release.promise, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
      return { n: run.n, aborted: signal.aborted };
    });
    running.set(1, deferred());
    running.set(2, deferred());
    const handle = await worker({ flows: [flow], concurrency: 2 });
    const sql = pgflowSql(db.pool);
    const keep = await sql.startFlow(slug, { n: 1 });
    const drop = await sql.startFlow(slug, { n: 2 });
    await Promise.all([running.get(1)!.promise, running.get(2)!.promise]);

    await sql.cancelRun(drop.runId);
    await waitUntil('the cancelled handler to settle', () => handle.stats().running === 1);
    release.resolve();
    await waitUntil('the other run to complete', async () => (await runRow(keep.runId))?.status === 'completed');
    expect(await runRow(keep.runId)).toEqual({ status: 'completed', output: { work: { n: 1, aborted: false } } });
    expect(await runRow(drop.runId)).toEqual({ status: 'cancelled', output: null });
    expect(calls.sort()).toEqual([1, 2]);
    expect(await tasksOf(keep.runId)).toEqual([{ step_slug: 'work', status: 'completed', attempts_count: 1, output: { n: 1, aborted: false } }]);
    expect(handle.stats()).toMatchObject({ claimed: 2, completed: 1, cancelled: 1, failed: 0 });
  });

  it('a handler that ignores the abort and returns after its run was cancelled and retried reports nothing: its late result does not complete the new attempt', async () => {
    const slug = uniqueSlug('late');
    const started = deferred();
    const release = deferred();
    const flow = new Flow<{ n: number }>({ slug, timeout: 120 }).step({ slug: 'work' }, async () => {
      started.resolve();
      await release.promise; // ignores its signal
      return 'stale';
    });
    // One handler at a time: while the stale one runs, this worker claims nothing else.
    const handle = await worker({ flows: [flow], concurrency: 1 });
    const sql = pgflowSql(db.pool);
    const run = await sql.startFlow(slug, { n: 1 });
    await started.promise;
    await sql.cancelRun(run.runId);
    await waitUntil('the handler to be aborted', () => handle.stats().cancelled === 1);
    await sql.retryRun(run.runId);
    // Another worker starts the retried task; then the stale handler returns.
    const [claimed] = await db.query(`select * from pgflow.claim_tasks($1, gen_random_uuid(), 1)`, [slug]);
    expect(claimed).toMatchObject({ run_id: run.runId, step_slug: 'work', attempts_count: 1 });
    release.resolve();
    await waitUntil('the stale handler to settle', () => handle.stats().running === 0);
    await sleep(200);
    expect(await tasksOf(run.runId)).toEqual([{ step_slug: 'work', status: 'started', attempts_count: 1, output: null }]);
    await db.query(`select pgflow.complete_task($1, 'work', 0, '"fresh"')`, [run.runId]);
    expect(await runRow(run.runId)).toEqual({ status: 'completed', output: { work: 'fresh' } });
    expect(handle.stats()).toMatchObject({ completed: 0, failed: 0, cancelled: 1 });
  });

  it('a retried run is claimed at once (run:retried wakes the worker) and completes', async () => {
    const slug = uniqueSlug('retry');
    let attempts = 0;
    const flow = new Flow<{ n: number }>({ slug, maxAttempts: 1 }).step({ slug: 'flaky' }, () => {
      attempts++;
      if (attempts === 1) throw new Error('first time fails');
      return { attempts };
    });
    await worker({ flows: [flow] });
    const sql = pgflowSql(db.pool);
    const run = await sql.startFlow(slug, { n: 1 });
    await waitUntil('the run to fail', async () => (await runRow(run.runId))?.status === 'failed');
    await sql.retryRun(run.runId);
    await waitUntil('the retried run to complete', async () => (await runRow(run.runId))?.status === 'completed', 5_000);
    expect(await runRow(run.runId)).toEqual({ status: 'completed', output: { flaky: { attempts: 2 } } });
  });
});

describe('a paused flow', () => {
  it('is polled quietly while paused, and its tasks run once it is resumed', async () => {
    const slug = uniqueSlug('paused');
    const ran: number[] = [];
    const flow = new Flow<{ n: number }>({ slug }).step({ slug: 'only' }, ({ run }) => {
      ran.push(run.n);
      return run.n;
    });
    const logger = memoryLogger();
    const sql = pgflowSql(db.pool);
    // The flow is paused before the worker starts, so no claim reads anything (one racing the pause would give
    // its messages back at once: see the engine's run-control test).
    await sql.createFlow(slug);
    await sql.addStep(slug, 'only');
    await sql.pauseFlow(slug);
    // Polls every 20 ms while paused, so quiet means no line per poll.
    const handle = await worker({ flows: [flow], logger, pollInterval: 20 });
    const logged = logger.entries.length;
    const run = await sql.startFlow(slug, { n: 7 });
    await sleep(300);
    expect(ran).toEqual([]);
    expect(handle.stats().claimed).toBe(0);
    expect((await runRow(run.runId))?.status).toBe('started');
    // About 15 polls, and not one log line (of any level) about them.
    expect(logger.entries.slice(logged)).toEqual([]);

    await sql.resumeFlow(slug);
    await waitUntil('the run to complete', async () => (await runRow(run.runId))?.status === 'completed');
    expect(ran).toEqual([7]);
  });

  it('is picked up by the flow:resumed event, not by a poll', async () => {
    const slug = uniqueSlug('resumed');
    const flow = new Flow<{ n: number }>({ slug }).step({ slug: 'only' }, ({ run }) => run.n);
    const sql = pgflowSql(db.pool);
    await worker({ flows: [flow] });
    // A first run completes only once the worker listens (the next poll is a minute away), so the pause and resume
    // below happen with LISTEN active even when the worker's connection came up slowly.
    const warmUp = await sql.startFlow(slug, { n: 1 });
    await waitUntil('the first run to complete', async () => (await runRow(warmUp.runId))?.status === 'completed', 20_000);
    await sql.pauseFlow(slug);
    const run = await sql.startFlow(slug, { n: 3 });
    // run:started woke the worker, whose claim found the flow paused; the next poll is a minute away.
    await sleep(200);
    expect((await runRow(run.runId))?.status).toBe('started');
    await sql.resumeFlow(slug);
    await waitUntil('the run to complete', async () => (await runRow(run.runId))?.status === 'completed', 5_000);
  });
});
