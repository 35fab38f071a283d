/**
 * `pgflowSql(x)` behaves the same whatever `x` is: a pg Pool, a pg Client, a
 * postgres.js `sql` (3.4 and 4.x), a Drizzle database on either driver, a
 * Kysely instance or a Kysely transaction. Each runs the same worker protocol on its own
 * flows and must return the same camelCase records (Date timestamps, number
 * message ids).
 */
import { randomUUID } from 'node:crypto';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePostgresJs } from 'drizzle-orm/postgres-js';
import { CamelCasePlugin, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { PgflowConnection } from '../../src/core/connection.js';
import { pgflowSql } from '../../src/core/sql-api.js';
import type { PgflowDatabase } from '../../src/kysely/index.js';
import { useTestDatabase, type TestDatabase } from '../support/database.js';
import { POSTGRES_JS, type PostgresJsSql, type PostgresJsVersion } from '../support/postgres-js.js';
import { closePool, useLocalPool } from './pool.js';

const db = useTestDatabase();
const pool = useLocalPool(db);

interface Adapter {
  name: string;
  /** Runs `body` with a connection of this kind and closes what it opened. */
  use<T>(db: TestDatabase, body: (connection: PgflowConnection) => Promise<T>): Promise<T>;
}

async function withPostgresJs<T>(driver: PostgresJsVersion, db: TestDatabase, body: (sql: PostgresJsSql) => Promise<T>): Promise<T> {
  const sql = driver.connect(db.url, { max: 2, onnotice: () => {} });
  try {
    return await body(sql);
  } finally {
    await sql.end();
  }
}

async function withKysely<T>(db: TestDatabase, body: (kysely: Kysely<PgflowDatabase>) => Promise<T>, plugins: CamelCasePlugin[] = []): Promise<T> {
  const kyselyPool = new pg.Pool({ connectionString: db.url, max: 2 });
  const kysely = new Kysely<PgflowDatabase>({ dialect: new PostgresDialect({ pool: kyselyPool }), plugins });
  try {
    return await body(kysely);
  } finally {
    await closePool(kyselyPool);
  }
}

const ADAPTERS: Adapter[] = [
  { name: 'pg Pool', use: (_, body) => body(pool()) },
  { name: 'pg Client', use: async (db, body) => body(await db.connect()) },
  ...POSTGRES_JS.map((driver): Adapter => ({ name: `${driver.name} sql`, use: (db, body) => withPostgresJs(driver, db, body) })),
  { name: 'Drizzle node-postgres', use: (_, body) => body(drizzleNodePg(pool())) },
  ...POSTGRES_JS.map((driver): Adapter => ({
    name: `Drizzle postgres-js on ${driver.name}`,
    use: (db, body) => withPostgresJs(driver, db, (sql) => body(drizzlePostgresJs(sql))),
  })),
  { name: 'Kysely', use: (db, body) => withKysely(db, body) },
  { name: 'Kysely transaction', use: (db, body) => withKysely(db, (kysely) => kysely.transaction().execute((trx) => body(trx))) },
];

const query = async (text: string, values?: unknown[]) => (await pool().query(text, values)).rows;
const slugFor = (adapter: string, suffix: string) => `${adapter.toLowerCase().replace(/[^a-z]+/g, '_')}_${suffix}`;
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const messageId = () => expect.any(Number);

/** Two chained steps driven through every call of the worker protocol; checks each record returned. */
/** Run input; the snake_case key must come back as written. */
const RUN_INPUT = { n: 21, tags: ['a', 'b'], user_id: 7 };

async function runChain(adapter: Adapter) {
  const flowSlug = slugFor(adapter.name, 'chain');
  const workerId = randomUUID();
  const result = await adapter.use(db, async (connection) => {
    const api = pgflowSql(connection);
    expect(await api.version()).toMatch(/^\d+\.\d+\.\d+/);

    const flow = await api.createFlow(flowSlug, { maxAttempts: 2, baseDelay: 1, timeout: 30 });
    expect(flow).toEqual({ flowSlug, optMaxAttempts: 2, optBaseDelay: 1, optTimeout: 30, createdAt: expect.any(Date), pausedAt: null });

    const first = await api.addStep(flowSlug, 'first');
    const second = await api.addStep(flowSlug, 'second', { dependsOn: ['first'], maxAttempts: 5, timeout: 20, startDelay: 0 });
    expect(first).toEqual({
      flowSlug,
      stepSlug: 'first',
      stepType: 'single',
      stepIndex: 0,
      depsCount: 0,
      optMaxAttempts: null,
      optBaseDelay: null,
      optTimeout: null,
      createdAt: expect.any(Date),
      optStartDelay: null,
      requiredInputPattern: null,
      forbiddenInputPattern: null,
      whenUnmet: 'skip',
      whenExhausted: 'fail',
    });
    expect(second).toMatchObject({ stepSlug: 'second', stepIndex: 1, depsCount: 1, optMaxAttempts: 5, optTimeout: 20, optStartDelay: 0 });

    const worker = await api.registerWorker(workerId, flowSlug, 'adapter-test');
    expect(worker).toEqual({
      workerId,
      queueName: flowSlug,
      functionName: 'adapter-test',
      startedAt: expect.any(Date),
      stoppedAt: null,
      deprecatedAt: null,
      lastHeartbeatAt: expect.any(Date),
    });

    const run = await api.startFlow(flowSlug, RUN_INPUT);
    expect(run).toEqual({
      runId: UUID,
      flowSlug,
      status: 'started',
      input: RUN_INPUT,
      output: null,
      remainingSteps: 2,
      startedAt: expect.any(Date),
      completedAt: null,
      failedAt: null,
      cancelledAt: null,
      cancelReason: null,
      idempotencyKey: null,
    });

    // First step through claim_tasks (read + start in one call).
    const claimed = await api.claimTasks(flowSlug, workerId, 10);
    expect(claimed).toEqual([{ flowSlug, runId: run.runId, stepSlug: 'first', input: { run: RUN_INPUT }, msgId: messageId(), taskIndex: 0, attemptsCount: 1 }]);
    const firstDone = await api.completeTask({ runId: run.runId, stepSlug: 'first', output: { doubled: 42, from_step: 'first' } });
    expect(firstDone).toEqual({
      flowSlug,
      runId: run.runId,
      stepSlug: 'first',
      messageId: claimed[0]!.msgId,
      taskIndex: 0,
      status: 'completed',
      attemptsCount: 1,
      errorMessage: null,
      output: { doubled: 42, from_step: 'first' },
      queuedAt: expect.any(Date),
      completedAt: expect.any(Date),
      failedAt: null,
      startedAt: expect.any(Date),
      lastWorkerId: workerId,
      cancelledAt: null,
    });
    // Completing it again changes nothing and returns no row.
    expect(await api.completeTask({ runId: run.runId, stepSlug: 'first', output: { doubled: 0 } })).toBeNull();

    // Second step through pgmq.read + start_tasks.
    const messages = await api.readMessages(flowSlug, 30, 10);
    expect(messages).toEqual([
      {
        msgId: messageId(),
        readCt: 1,
        enqueuedAt: expect.any(Date),
        vt: expect.any(Date),
        message: { flow_slug: flowSlug, run_id: run.runId, step_slug: 'second', task_index: 0 },
        headers: null,
      },
    ]);
    const started = await api.startTasks(flowSlug, messages.map((message) => message.msgId), workerId);
    expect(started).toEqual([
      { flowSlug, runId: run.runId, stepSlug: 'second', input: { run: RUN_INPUT, first: { doubled: 42, from_step: 'first' } }, msgId: messages[0]!.msgId, taskIndex: 0 },
    ]);
    // An array output with a string and a null inside, through complete_tasks' jsonb[] parameter.
    const completed = await api.completeTasks([{ runId: run.runId, stepSlug: 'second', output: [1, 'two "quoted"', null, { three: 3 }] }]);
    expect(completed).toEqual([expect.objectContaining({ stepSlug: 'second', status: 'completed', messageId: messages[0]!.msgId, output: [1, 'two "quoted"', null, { three: 3 }] })]);
    expect(completed[0]!.completedAt).toBeInstanceOf(Date);

    await api.heartbeatWorker(workerId);
    await api.stopWorker(workerId);
    return { runId: run.runId, state: await api.getRunWithStates(run.runId) };
  });

  expect(result.state?.run).toMatchObject({ run_id: result.runId, status: 'completed', output: { second: [1, 'two "quoted"', null, { three: 3 }] }, remaining_steps: 0 });
  expect(result.state?.steps.map((step) => [step.step_slug, step.status])).toEqual([
    ['first', 'completed'],
    ['second', 'completed'],
  ]);
  const [stored] = await query(`select stopped_at is not null as stopped from pgflow.workers where worker_id = $1`, [workerId]);
  expect(stored).toEqual({ stopped: true });
}

describe.each(ADAPTERS)('pgflowSql over a $name', (adapter) => {
  it('creates a flow, adds steps, starts a run, claims, starts and completes tasks, and reads the run', async () => {
    await runChain(adapter);
  });

  it('fails a task with an error message and fails the run when no attempt is left', async () => {
    const flowSlug = slugFor(adapter.name, 'fails');
    const workerId = randomUUID();
    const failed = await adapter.use(db, async (connection) => {
      const api = pgflowSql(connection);
      await api.createFlow(flowSlug, { maxAttempts: 1 });
      await api.addStep(flowSlug, 'only');
      await api.registerWorker(workerId, flowSlug, 'adapter-test');
      const run = await api.startFlow(flowSlug, {});
      const [task] = await api.claimTasks(flowSlug, workerId);
      expect(task?.stepSlug).toBe('only');
      const failure = await api.failTask({ runId: run.runId, stepSlug: 'only', errorMessage: "boom: it's \"quoted\"" });
      return { failure, state: await api.getRunWithStates(run.runId) };
    });
    expect(failed.failure).toEqual(
      expect.objectContaining({ status: 'failed', errorMessage: "boom: it's \"quoted\"", attemptsCount: 1, failedAt: expect.any(Date), completedAt: null, messageId: messageId() }),
    );
    expect(failed.state?.run).toMatchObject({ status: 'failed' });
  });
});

describe('pgflowSql over a Kysely transaction', () => {
  it('runs inside the transaction: nothing is visible outside until it commits, and a rollback removes it', async () => {
    const flowSlug = 'kysely_trx_rollback';
    const outcome = await withKysely(db, async (kysely) => {
      let insideCount: number | undefined;
      const error = await kysely
        .transaction()
        .execute(async (trx) => {
          const api = pgflowSql(trx);
          await api.createFlow(flowSlug);
          insideCount = (await trx.selectFrom('pgflow.flows').select((eb) => eb.fn.countAll<string>().as('count')).where('flow_slug', '=', flowSlug).executeTakeFirstOrThrow()).count === '1' ? 1 : 0;
          const outside = await query('select 1 from pgflow.flows where flow_slug = $1', [flowSlug]);
          expect(outside).toEqual([]);
          throw new Error('roll back');
        })
        .catch((caught: Error) => caught);
      return { insideCount, error };
    });
    expect(outcome.insideCount).toBe(1);
    expect(outcome.error.message).toBe('roll back');
    expect(await query('select 1 from pgflow.flows where flow_slug = $1', [flowSlug])).toEqual([]);
  });
});

describe('pgflowSql over a Kysely instance with result plugins', () => {
  // Apps often add CamelCasePlugin; it rewrites the keys of every result row and, by default, of the
  // JSON objects inside (run input, step outputs). The SQL API must see the rows as the database sent them.
  it('returns the same records and leaves the keys of JSON values alone', async () => {
    await runChain({ name: 'Kysely camel', use: (db, body) => withKysely(db, body, [new CamelCasePlugin()]) });
  });
});
