/**
 * Typed queries over data the engine produced: Drizzle (query builder, a
 * join, the relational API with pgflow's relations) and Kysely (the app's
 * own tables merged with `PgflowDatabase`).
 */
import { randomUUID } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, PostgresDialect, type Generated, type Selectable } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import type { RunRow, StepStateRow } from '../../src/core/types.js';
import { pgflowSchema, runs, stepStates, stepTasks, steps } from '../../src/drizzle/index.js';
// pgflow-orm/kysely's row types share the core names but have the snake_case shapes of the columns.
import type { PgflowDatabase, RunRow as KyselyRunRow, StepTaskRow as KyselyStepTaskRow } from '../../src/kysely/index.js';
import { useTestDatabase } from '../support/database.js';
import { closePool, useLocalPool } from './pool.js';

const db = useTestDatabase();
const pool = useLocalPool(db);

const OK = 'typed_ok';
const BAD = 'typed_bad';
const WORKER = randomUUID();
let okRuns: string[] = [];
let badRun = '';

/** Runs every ready task of the flow: `fail` decides which step slugs fail. */
async function drain(flowSlug: string, fail: (stepSlug: string) => boolean = () => false) {
  const api = pgflowSql(pool());
  for (;;) {
    const tasks = await api.claimTasks(flowSlug, WORKER, 10);
    if (tasks.length === 0) return;
    for (const task of tasks) {
      if (fail(task.stepSlug)) await api.failTask({ runId: task.runId, stepSlug: task.stepSlug, errorMessage: `${task.stepSlug} failed` });
      else await api.completeTask({ runId: task.runId, stepSlug: task.stepSlug, output: { step: task.stepSlug, sawRun: task.input.run } });
    }
  }
}

beforeAll(async () => {
  const api = pgflowSql(pool());
  await api.registerWorker(WORKER, OK, 'typed');
  await api.createFlow(OK);
  await api.addStep(OK, 'fetch');
  await api.addStep(OK, 'save', { dependsOn: ['fetch'] });
  await api.createFlow(BAD, { maxAttempts: 1 });
  await api.addStep(BAD, 'explode');
  okRuns = [(await api.startFlow(OK, { i: 1 })).runId, (await api.startFlow(OK, { i: 2 })).runId];
  badRun = (await api.startFlow(BAD, { i: 3 })).runId;
  await drain(OK);
  await drain(BAD, () => true);
});

describe('Drizzle', () => {
  const drizzleDb = () => drizzle(pool(), { schema: pgflowSchema });

  it('selects failed runs with eq(runs.status, "failed")', async () => {
    const failed: RunRow[] = await drizzleDb().select().from(runs).where(eq(runs.status, 'failed'));
    expect(failed).toEqual([
      {
        runId: badRun,
        flowSlug: BAD,
        status: 'failed',
        input: { i: 3 },
        output: null,
        remainingSteps: 1,
        startedAt: expect.any(Date),
        completedAt: null,
        failedAt: expect.any(Date),
        cancelledAt: null,
        cancelReason: null,
        idempotencyKey: null,
      },
    ]);
  });

  it('joins runs with their step states', async () => {
    const rows = await drizzleDb()
      .select({ runId: runs.runId, runStatus: runs.status, stepSlug: stepStates.stepSlug, stepStatus: stepStates.status, completedAt: stepStates.completedAt })
      .from(runs)
      .innerJoin(stepStates, eq(stepStates.runId, runs.runId))
      .where(eq(runs.flowSlug, OK))
      .orderBy(asc(stepStates.createdAt), asc(stepStates.stepSlug));
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((row) => row.runId))).toEqual(new Set(okRuns));
    for (const row of rows) {
      expect(row).toEqual({ runId: expect.any(String), runStatus: 'completed', stepSlug: expect.stringMatching(/^(fetch|save)$/), stepStatus: 'completed', completedAt: expect.any(Date) });
    }
  });

  it('reads tasks with number message ids and JSON outputs', async () => {
    const tasks = await drizzleDb()
      .select()
      .from(stepTasks)
      .where(and(eq(stepTasks.runId, okRuns[0]!), eq(stepTasks.stepSlug, 'save')));
    expect(tasks).toEqual([
      expect.objectContaining({ status: 'completed', messageId: expect.any(Number), output: { step: 'save', sawRun: { i: 1 } }, lastWorkerId: WORKER }),
    ]);
  });

  it('loads runs with their step states through the relational API', async () => {
    const found = await drizzleDb().query.runs.findMany({
      where: eq(runs.flowSlug, OK),
      with: { stepStates: { orderBy: [asc(stepStates.stepSlug)], with: { stepTasks: true } }, flow: true },
      orderBy: [asc(runs.startedAt)],
    });
    expect(found.map((run) => run.runId).sort()).toEqual([...okRuns].sort());
    for (const run of found) {
      const states: StepStateRow[] = run.stepStates;
      expect(states.map((state) => [state.stepSlug, state.status])).toEqual([
        ['fetch', 'completed'],
        ['save', 'completed'],
      ]);
      expect(run.stepStates.map((state) => state.stepTasks.map((task) => task.status))).toEqual([['completed'], ['completed']]);
      expect(run.flow).toMatchObject({ flowSlug: OK, optMaxAttempts: 3 });
    }
  });

  it('follows a step to its dependencies and dependents, and a task to its worker and state', async () => {
    const found = await drizzleDb().query.steps.findMany({
      where: eq(steps.flowSlug, OK),
      with: { deps: true, dependents: true },
      orderBy: [asc(steps.stepIndex)],
    });
    expect(found.map((step) => ({ step: step.stepSlug, deps: step.deps.map((dep) => dep.depSlug), dependents: step.dependents.map((dep) => dep.stepSlug) }))).toEqual([
      { step: 'fetch', deps: [], dependents: ['save'] },
      { step: 'save', deps: ['fetch'], dependents: [] },
    ]);
    const task = await drizzleDb().query.stepTasks.findFirst({
      where: and(eq(stepTasks.runId, badRun), eq(stepTasks.stepSlug, 'explode')),
      with: { lastWorker: true, stepState: true, run: true },
    });
    expect(task).toMatchObject({
      status: 'failed',
      errorMessage: 'explode failed',
      lastWorker: { workerId: WORKER, functionName: 'typed' },
      stepState: { status: 'failed' },
      run: { status: 'failed' },
    });
    const worker = await drizzleDb().query.workers.findFirst({ with: { tasks: { columns: { stepSlug: true } } } });
    expect(worker?.tasks.map((t) => t.stepSlug).sort()).toEqual(['explode', 'fetch', 'fetch', 'save', 'save']);
  });
});

describe('Kysely', () => {
  /** The app's own tables, merged with pgflow's. */
  interface AppTables {
    app_notes: { id: Generated<number>; run_id: string; body: string };
  }
  type DB = AppTables & PgflowDatabase;

  let kyselyPool: pg.Pool;
  let kysely: Kysely<DB>;
  beforeAll(async () => {
    await pool().query('create table app_notes (id serial primary key, run_id uuid not null references pgflow.runs (run_id), body text not null)');
    kyselyPool = new pg.Pool({ connectionString: db.url, max: 2 });
    kysely = new Kysely<DB>({ dialect: new PostgresDialect({ pool: kyselyPool }) });
  });
  afterAll(async () => {
    // Closing the pool Kysely was given is what kysely.destroy() does, plus waiting for the sockets.
    await closePool(kyselyPool);
  });

  it("selects completed runs from 'pgflow.runs'", async () => {
    const completed: KyselyRunRow[] = await kysely.selectFrom('pgflow.runs').selectAll().where('status', '=', 'completed').orderBy('started_at').execute();
    expect(completed.map((run) => run.run_id).sort()).toEqual([...okRuns].sort());
    for (const run of completed) {
      expect(run).toEqual({
        run_id: expect.any(String),
        flow_slug: OK,
        status: 'completed',
        input: { i: expect.any(Number) },
        output: { save: { step: 'save', sawRun: run.input } },
        remaining_steps: 0,
        started_at: expect.any(Date),
        completed_at: expect.any(Date),
        failed_at: null,
        cancelled_at: null,
        cancel_reason: null,
        idempotency_key: null,
      });
    }
  });

  it('joins the app tables with pgflow tables, and returns int8 message ids as strings', async () => {
    await kysely.insertInto('app_notes').values({ run_id: badRun, body: 'investigate' }).execute();
    const rows = await kysely
      .selectFrom('app_notes as n')
      .innerJoin('pgflow.step_tasks as t', 't.run_id', 'n.run_id')
      .innerJoin('pgflow.step_states as s', (join) => join.onRef('s.run_id', '=', 't.run_id').onRef('s.step_slug', '=', 't.step_slug'))
      .select(['n.body', 't.message_id', 't.error_message', 's.status as step_status', 't.failed_at'])
      .execute();
    expect(rows).toEqual([{ body: 'investigate', message_id: expect.stringMatching(/^\d+$/), error_message: 'explode failed', step_status: 'failed', failed_at: expect.any(Date) }]);
    const messageId: KyselyStepTaskRow['message_id'] = rows[0]!.message_id;
    expect(Number(messageId)).toBeGreaterThan(0);
  });

  it('inserts a worker relying on column defaults and reads it back', async () => {
    const workerId = randomUUID();
    const worker = await kysely
      .insertInto('pgflow.workers')
      .values({ worker_id: workerId, queue_name: OK, function_name: 'kysely' })
      .returningAll()
      .executeTakeFirstOrThrow();
    const expected: Selectable<PgflowDatabase['pgflow.workers']> = {
      worker_id: workerId,
      queue_name: OK,
      function_name: 'kysely',
      started_at: expect.any(Date),
      stopped_at: null,
      deprecated_at: null,
      last_heartbeat_at: expect.any(Date),
    };
    expect(worker).toEqual(expected);
  });
});
