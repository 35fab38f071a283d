/**
 * Operating runs and flows through the client against a real database:
 * cancelRun / retryRun / pauseFlow / resumeFlow (what they return, null when
 * there is nothing to do, typed errors for unknown runs and flows), idempotent
 * startFlow, waitForRun on a run that is cancelled (before and while waiting),
 * and the run:cancelled, run:retried, flow:paused and flow:resumed events.
 * Tasks are driven by hand through the SQL API, so every change happens when
 * the test says.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancelRun,
  createClient,
  FlowNotFoundError,
  pauseFlow,
  readRunOutcome,
  retryRun,
  RunCancelledError,
  RunNotFoundError,
  type PgflowClient,
  type PgflowEvent,
} from '../../src/client/index.js';
import { pgflowSql } from '../../src/core/sql-api.js';
import { ensureFlow, Flow } from '../../src/flow/index.js';
import { useTestDatabase } from '../support/database.js';
import { memoryLogger, sleep, waitUntil } from '../worker/support.js';

const db = useTestDatabase();
let client: PgflowClient;
const workerId = randomUUID();

const chain = new Flow<{ n: number }>({ slug: 'control_chain', maxAttempts: 1 })
  .step({ slug: 'first' }, ({ run }) => run.n + 1)
  .step({ slug: 'second', dependsOn: ['first'] }, ({ first }) => ({ total: first * 2 }));

/** Claims and completes (or fails) what is visible, with the flow's own handlers. */
async function drive(options: { fail?: string } = {}): Promise<number> {
  const sql = pgflowSql(db.pool);
  const tasks = await sql.claimTasks(chain.slug, workerId, 10);
  for (const task of tasks) {
    if (options.fail === task.stepSlug) await sql.failTask({ runId: task.runId, stepSlug: task.stepSlug, errorMessage: `${task.stepSlug} broke` });
    else await sql.completeTask({ runId: task.runId, stepSlug: task.stepSlug, output: await chain.getStep(task.stepSlug)!.handler(task.input, {} as never) });
  }
  return tasks.length;
}

beforeAll(async () => {
  await ensureFlow(db.pool, chain);
  client = createClient({ connectionString: db.url, logger: memoryLogger() });
});

afterAll(async () => {
  await client?.close();
});

describe('cancelRun', () => {
  it('cancels a started run with its reason; a second cancel, or a cancel of a finished run, returns null', async () => {
    const run = await client.startFlow(chain, { n: 1 });
    const cancelled = await client.cancelRun(run.runId, 'customer changed the order');
    expect(cancelled).toMatchObject({ runId: run.runId, status: 'cancelled', cancelReason: 'customer changed the order' });
    expect(cancelled?.cancelledAt).toBeInstanceOf(Date);
    expect(await client.cancelRun(run.runId)).toBeNull();

    const details = await client.getRun(run.runId);
    expect(details?.steps.map((step) => [step.stepSlug, step.status])).toEqual([
      ['first', 'cancelled'],
      ['second', 'cancelled'],
    ]);
    expect(details?.tasks.map((task) => task.status)).toEqual(['cancelled']);

    const done = await client.startFlow(chain, { n: 2 });
    while ((await drive()) > 0);
    expect(await cancelRun(db.pool, done.runId)).toBeNull();
    expect((await client.getRun(done.runId))?.run.status).toBe('completed');
  });

  it('rejects with RunNotFoundError for an unknown run', async () => {
    const unknown = randomUUID();
    await expect(client.cancelRun(unknown)).rejects.toThrow(new RunNotFoundError(unknown));
    await expect(client.cancelRun(unknown)).rejects.toBeInstanceOf(RunNotFoundError);
  });
});

describe('retryRun', () => {
  it('starts a failed run again from the failed step; the completed step keeps its output; null when there is nothing to retry', async () => {
    const run = await client.startFlow(chain, { n: 3 });
    await drive();
    await drive({ fail: 'second' });
    expect((await client.getRun(run.runId))?.run.status).toBe('failed');

    const retried = await client.retryRun(run.runId);
    expect(retried).toMatchObject({ runId: run.runId, status: 'started', remainingSteps: 1, failedAt: null });
    expect(await client.retryRun(run.runId)).toBeNull();
    while ((await drive()) > 0);
    expect(await client.waitForRun(run.runId, { timeout: 10_000 })).toEqual({ second: { total: 8 } });
  });

  it('starts a cancelled run again; rejects with RunNotFoundError for an unknown run', async () => {
    const run = await client.startFlow(chain, { n: 10 });
    await client.cancelRun(run.runId);
    expect(await retryRun(db.pool, run.runId)).toMatchObject({ status: 'started', cancelledAt: null, cancelReason: null });
    while ((await drive()) > 0);
    expect(await client.waitForRun(run.runId, { timeout: 10_000 })).toEqual({ second: { total: 22 } });
    await expect(client.retryRun(randomUUID())).rejects.toBeInstanceOf(RunNotFoundError);
  });
});

describe('pauseFlow and resumeFlow', () => {
  it('pause stops claiming (pausedAt set), resume lets it go on; an unknown flow is a FlowNotFoundError', async () => {
    const paused = await client.pauseFlow(chain);
    expect(paused).toMatchObject({ flowSlug: chain.slug });
    expect(paused.pausedAt).toBeInstanceOf(Date);
    expect((await pauseFlow(db.pool, chain.slug)).pausedAt?.getTime()).toBe(paused.pausedAt?.getTime());

    const run = await client.startFlow(chain, { n: 4 });
    expect(await drive()).toBe(0);
    expect((await client.resumeFlow(chain.slug)).pausedAt).toBeNull();
    while ((await drive()) > 0);
    expect(await client.waitForRun(run.runId, { timeout: 10_000 })).toEqual({ second: { total: 10 } });

    await expect(client.pauseFlow('no_such_flow')).rejects.toThrow(new FlowNotFoundError('no_such_flow'));
    await expect(client.resumeFlow('no_such_flow')).rejects.toBeInstanceOf(FlowNotFoundError);
  });
});

describe('startFlow with an idempotency key', () => {
  it('a second start with the same key returns the first run and creates nothing', async () => {
    const key = `order-${randomUUID()}`;
    const first = await client.startFlow(chain, { n: 5 }, { idempotencyKey: key });
    const second = await client.startFlow(chain, { n: 6 }, { idempotencyKey: key });
    expect(second.runId).toBe(first.runId);
    expect(second.input).toEqual({ n: 5 });
    expect(first.idempotencyKey).toBe(key);
    const [count] = await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where idempotency_key = $1`, [key]);
    expect(count?.n).toBe(1);
    await expect(client.startFlow(chain, { n: 7 }, { idempotencyKey: key, runId: randomUUID() })).rejects.toThrow(/a runId or an idempotencyKey, not both/);
  });
});

describe('waitForRun and cancelled runs', () => {
  it('rejects with RunCancelledError (reason, flow) for a run cancelled while waiting', async () => {
    const run = await client.startFlow(chain, { n: 8 });
    const waiting = client.waitForRun(run.runId, { timeout: 20_000 });
    const outcome = waiting.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await sleep(100);
    await cancelRun(db.pool, run.runId, 'no longer needed');
    const error = await outcome;
    expect(error).toBeInstanceOf(RunCancelledError);
    expect(error).toMatchObject({ runId: run.runId, flowSlug: chain.slug, reason: 'no longer needed', message: `run ${run.runId} of flow "control_chain" was cancelled: no longer needed` });
    expect((error as RunCancelledError).cancelledAt).toBeInstanceOf(Date);
  });

  it('rejects at once for a run that was already cancelled; readRunOutcome says cancelled', async () => {
    const run = await client.startFlow(chain, { n: 9 });
    await client.cancelRun(run.runId);
    await expect(client.waitForRun(run.runId, { timeout: 5_000 })).rejects.toBeInstanceOf(RunCancelledError);
    const outcome = await readRunOutcome(db.pool, run.runId);
    expect(outcome).toMatchObject({ status: 'cancelled', flowSlug: chain.slug });
    expect(outcome?.status === 'cancelled' && outcome.error.reason).toBeNull();
  });
});

describe('events', () => {
  it('run:cancelled, run:retried, flow:paused and flow:resumed arrive typed; a run filter leaves flow events out', async () => {
    const all: PgflowEvent[] = [];
    const ofRun: PgflowEvent[] = [];
    // Listening before the start, so the run's run:started is always among the flow's events (never racing the subscription).
    const stopAll = await client.onEvent((event) => all.push(event), { flow: chain });
    const run = await client.startFlow(chain, { n: 11 });
    const stopRun = await client.onEvent((event) => ofRun.push(event), { runId: run.runId });
    await client.cancelRun(run.runId, 'testing events');
    await client.retryRun(run.runId);
    await client.pauseFlow(chain);
    await client.resumeFlow(chain);
    await waitUntil('the flow:resumed event', () => all.some((event) => event.type === 'flow:resumed'));
    await stopAll();
    await stopRun();

    const cancelled = all.find((event) => event.type === 'run:cancelled');
    expect(cancelled).toMatchObject({ type: 'run:cancelled', status: 'cancelled', runId: run.runId, flowSlug: chain.slug, reason: 'testing events' });
    expect(cancelled?.type === 'run:cancelled' && cancelled.cancelledAt).toBeInstanceOf(Date);
    expect(all.find((event) => event.type === 'run:retried')).toMatchObject({ type: 'run:retried', status: 'started', runId: run.runId, retriedSteps: 2 });
    const paused = all.find((event) => event.type === 'flow:paused');
    expect(paused).toMatchObject({ type: 'flow:paused', status: 'paused', flowSlug: chain.slug });
    expect(paused && 'runId' in paused).toBe(false);
    expect(paused?.type === 'flow:paused' && paused.pausedAt).toBeInstanceOf(Date);
    expect(all.map((event) => event.type)).toEqual(['run:started', 'run:cancelled', 'run:retried', 'flow:paused', 'flow:resumed']);
    expect(ofRun.every((event) => event.runId === run.runId)).toBe(true);
    expect(ofRun.map((event) => event.type)).toEqual(expect.arrayContaining(['run:cancelled', 'run:retried']));
    expect(ofRun.some((event) => event.type === 'flow:paused' || event.type === 'flow:resumed')).toBe(false);
  });
});
