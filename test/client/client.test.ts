/**
 * The client against a real database. Runs are driven by hand through the
 * SQL API (claim + complete / fail), so every state change happens exactly
 * when the test says: startFlow (typed, input checked), getRun (run, step
 * states and tasks), waitForRun (success, failure, unknown run, timeout,
 * abort, a run that finished while the notification connection was down),
 * onEvent (order, filters, unsubscribe), and runs of map steps (array
 * inputs, one task per element) and of skipped steps (status, reason,
 * step:skipped, output without their keys).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  getRun,
  listRuns,
  RunFailedError,
  RunNotFoundError,
  RunWaitTimeoutError,
  startFlow,
  startFlows,
  waitForRun,
  type PgflowClient,
  type PgflowEvent,
} from '../../src/client/index.js';
import { PgflowArgumentError } from '../../src/core/arguments.js';
import { pgflowSql } from '../../src/core/sql-api.js';
import { ensureFlow, Flow, JsonValueError } from '../../src/flow/index.js';
import { useTestDatabase, withAdminClient } from '../support/database.js';
import { memoryLogger, sleep, waitUntil } from '../worker/support.js';

const db = useTestDatabase();
let client: PgflowClient;

const diamond = new Flow<{ n: number }>({ slug: 'client_diamond', maxAttempts: 1 })
  .step({ slug: 'start' }, ({ run }) => run.n)
  .step({ slug: 'left', dependsOn: ['start'] }, ({ start }) => start + 1)
  .step({ slug: 'right', dependsOn: ['start'] }, ({ start }) => start + 2)
  .step({ slug: 'join', dependsOn: ['left', 'right'] }, ({ left, right }) => ({ sum: left + right }));

const workerId = randomUUID();

/** Claims whatever is visible and completes (or fails) it with what the flow's handlers return. */
async function drive(options: { fail?: string } = {}): Promise<number> {
  const sql = pgflowSql(db.pool);
  const tasks = await sql.claimTasks(diamond.slug, workerId, 10);
  for (const task of tasks) {
    if (options.fail === task.stepSlug) {
      await sql.failTask({ runId: task.runId, stepSlug: task.stepSlug, errorMessage: `${task.stepSlug} exploded` });
    } else {
      const output = await diamond.getStep(task.stepSlug)!.handler(task.input, {} as never);
      await sql.completeTask({ runId: task.runId, stepSlug: task.stepSlug, output });
    }
  }
  return tasks.length;
}

/** Drives until nothing is left to claim. */
async function driveAll(options: { fail?: string } = {}): Promise<void> {
  while ((await drive(options)) > 0);
}

beforeAll(async () => {
  await ensureFlow(db.pool, diamond);
  client = createClient({ connectionString: db.url, logger: memoryLogger() });
});

afterAll(async () => {
  await client?.close();
});

describe('startFlow and getRun', () => {
  it('starts a run with the typed input and reads it back with step states and tasks in step order', async () => {
    const run = await startFlow(db.pool, diamond, { n: 1 });
    expect(run).toMatchObject({ flowSlug: 'client_diamond', status: 'started', input: { n: 1 }, output: null, remainingSteps: 4 });
    expect(run.startedAt).toBeInstanceOf(Date);

    await drive();
    const details = await getRun(db.pool, run.runId);
    expect(details?.run).toMatchObject({ runId: run.runId, status: 'started', remainingSteps: 3 });
    expect(details?.run.startedAt).toBeInstanceOf(Date);
    expect(details?.steps.map((step) => [step.stepSlug, step.status])).toEqual([
      ['start', 'completed'],
      ['left', 'started'],
      ['right', 'started'],
      ['join', 'created'],
    ]);
    expect(details?.tasks.map((task) => [task.stepSlug, task.status, task.attemptsCount, task.output])).toEqual([
      ['start', 'completed', 1, 1],
      ['left', 'queued', 0, null],
      ['right', 'queued', 0, null],
    ]);
    expect(details?.tasks[0]?.completedAt).toBeInstanceOf(Date);
    expect(typeof details?.tasks[1]?.messageId).toBe('number');
    await driveAll();
    expect((await client.getRun(run.runId))?.run).toMatchObject({ status: 'completed', output: { join: { sum: 5 } } });
  });

  it('takes a chosen run id and returns null for an unknown one', async () => {
    const runId = randomUUID();
    expect((await client.startFlow(diamond, { n: 2 }, { runId })).runId).toBe(runId);
    expect(await getRun(db.pool, randomUUID())).toBeNull();
    await driveAll();
  });

  it('lists runs newest first, filtered by flow and status, a page at a time', async () => {
    const other = new Flow({ slug: 'client_listed' }).step({ slug: 'only' }, () => 1);
    await ensureFlow(db.pool, other);
    const first = await startFlow(db.pool, other, {});
    await sleep(5);
    const second = await startFlow(db.pool, other, {});
    const listed = await listRuns(db.pool, { flow: other });
    expect(listed.map((run) => run.runId)).toEqual([second.runId, first.runId]);
    expect(listed[0]?.startedAt).toBeInstanceOf(Date);
    expect((await listRuns(db.pool, { flow: 'client_listed', limit: 1 })).map((run) => run.runId)).toEqual([second.runId]);
    expect((await listRuns(db.pool, { flow: other, startedBefore: second.startedAt })).map((run) => run.runId)).toEqual([first.runId]);
    expect(await listRuns(db.pool, { flow: other, status: 'completed' })).toEqual([]);
    expect((await listRuns(db.pool, { status: 'completed' })).every((run) => run.status === 'completed')).toBe(true);
  });

  it('startFlows starts a run per input in input order; the runs complete like any other', async () => {
    const runs = await client.startFlows(diamond, [{ n: 10 }, { n: 20 }, { n: 30 }]);
    expect(runs.map((run) => [run.flowSlug, run.status, run.input])).toEqual([
      ['client_diamond', 'started', { n: 10 }],
      ['client_diamond', 'started', { n: 20 }],
      ['client_diamond', 'started', { n: 30 }],
    ]);
    expect(await startFlows(db.pool, diamond, [])).toEqual([]);
    await driveAll();
    for (const run of runs) expect(await client.waitForRun(run.runId)).toEqual({ join: { sum: 2 * run.input.n + 3 } });
  });

  it('startFlows checks every input before sending anything, naming the bad one', async () => {
    const runs = async () => (await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = 'client_diamond'`))[0]!.n;
    const before = await runs();
    await expect(startFlows(db.pool, diamond, [{ n: 1 }, [1] as never])).rejects.toThrow('input 1 of the runs of flow "client_diamond" must be a JSON object');
    await expect(startFlows(db.pool, diamond, [{ n: 1, when: new Date() } as never])).rejects.toThrow(JsonValueError);
    await expect(startFlows(db.pool, diamond, 'nope' as never)).rejects.toThrow('startFlows: inputs must be an array');
    const sql = pgflowSql(db.pool);
    const nul = await sql.startFlows('client_diamond', [{ n: 1 }, { note: 'a\u0000b' }]).catch((error: unknown) => error);
    expect(nul).toBeInstanceOf(PgflowArgumentError);
    expect((nul as PgflowArgumentError).argument).toBe('inputs[1]');
    const nullInput = await sql.startFlows('client_diamond', [{ n: 1 }, null as never]).catch((error: unknown) => error);
    expect(nullInput).toBeInstanceOf(PgflowArgumentError);
    expect((nullInput as Error).message).toBe('pgflowSql.startFlows: inputs[1] is null; each input must be a JSON object (or an array for a flow with a root map step)');
    // The engine's own check, reached through pgflowSql with an array where an object belongs.
    await expect(sql.startFlows('client_diamond', [{ n: 1 }, [2]])).rejects.toThrow('the input of a run must be a JSON object, got array at inputs[2]');
    expect(await runs()).toBe(before);
  });

  it('refuses inputs that are not JSON objects before reaching the database', async () => {
    await expect(startFlow(db.pool, diamond, { n: 1, when: new Date() } as never)).rejects.toThrow(JsonValueError);
    await expect(startFlow(db.pool, diamond, { n: 1, when: new Date() } as never)).rejects.toThrow('the input of a run of flow "client_diamond" is not JSON-serialisable: $.when is a Date');
    await expect(startFlow(db.pool, diamond, [1, 2] as never)).rejects.toThrow('the input of a run of flow "client_diamond" must be a JSON object');
  });

  it('refuses a NUL character in the input, saying where, and a malformed run id, creating nothing', async () => {
    const runs = async () => (await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = 'client_diamond'`))[0]!.n;
    const before = await runs();
    const nul = await client.startFlow(diamond, { n: 1, note: 'a\u0000b' } as never).catch((error: unknown) => error);
    expect(nul).toBeInstanceOf(JsonValueError);
    expect((nul as Error).message).toBe(
      'the input of a run of flow "client_diamond" is not JSON-serialisable: $.note contains a NUL character (\\u0000), which PostgreSQL cannot store in jsonb',
    );
    const badId = await client.startFlow(diamond, { n: 1 }, { runId: 'run-1' }).catch((error: unknown) => error);
    expect(badId).toBeInstanceOf(PgflowArgumentError);
    expect((badId as Error).message).toBe('pgflowSql.startFlow: runId must be a UUID, got "run-1"');
    expect(await runs()).toBe(before);
  });

  it('getRun and waitForRun refuse a malformed run id with an error naming it', async () => {
    await expect(getRun(db.pool, 'not-a-run')).rejects.toThrow(new PgflowArgumentError('getRun: runId must be a UUID, got "not-a-run"', 'runId', 'not-a-run'));
    const waited = await client.waitForRun('12345').catch((error: unknown) => error);
    expect(waited).toBeInstanceOf(PgflowArgumentError);
    expect((waited as Error).message).toBe('waitForRun: runId must be a UUID, got "12345"');
  });
});

describe('waitForRun', () => {
  it('resolves with the output of a run that completes while waiting', async () => {
    const run = await client.startFlow(diamond, { n: 10 });
    const waited = client.waitForRun(run.runId, { timeout: 10_000 });
    await driveAll();
    expect(await waited).toEqual({ join: { sum: 23 } });
  });

  it('resolves at once for a run that has already completed, and through a short-lived client', async () => {
    const run = await client.startFlow(diamond, { n: 0 });
    await driveAll();
    expect(await client.waitForRun(run.runId)).toEqual({ join: { sum: 3 } });
    expect(await waitForRun(db.url, run.runId, { timeout: 5_000 })).toEqual({ join: { sum: 3 } });
    expect(await waitForRun(db.pool, run.runId)).toEqual({ join: { sum: 3 } });
  });

  it('rejects with the failing step and its error message when the run fails', async () => {
    const run = await client.startFlow(diamond, { n: 1 });
    const waited = client.waitForRun(run.runId, { timeout: 10_000 }).catch((error: unknown) => error);
    await drive();
    await drive({ fail: 'right' });
    const error = await waited;
    expect(error).toBeInstanceOf(RunFailedError);
    expect(error).toMatchObject({ runId: run.runId, flowSlug: 'client_diamond', stepSlug: 'right', message: 'right exploded' });
    // And for a run that has already failed:
    await expect(client.waitForRun(run.runId)).rejects.toMatchObject({ stepSlug: 'right', message: 'right exploded' });
  });

  it('rejects for an unknown run, after the timeout, and when the signal aborts', async () => {
    await expect(client.waitForRun(randomUUID())).rejects.toBeInstanceOf(RunNotFoundError);

    const run = await client.startFlow(diamond, { n: 1 });
    const timedOut = await client.waitForRun(run.runId, { timeout: 100 }).catch((error: unknown) => error);
    expect(timedOut).toBeInstanceOf(RunWaitTimeoutError);
    expect((timedOut as Error).message).toBe(`run ${run.runId} did not finish within 100 ms`);

    const controller = new AbortController();
    const aborted = client.waitForRun(run.runId, { signal: controller.signal }).catch((error: unknown) => error);
    controller.abort(new Error('no longer needed'));
    expect(await aborted).toEqual(new Error('no longer needed'));

    const closing = createClient(db.pool);
    const pending = closing.waitForRun(run.runId).catch((error: unknown) => error);
    await sleep(50);
    await closing.close();
    expect(await pending).toEqual(new Error('the client was closed while waiting for the run'));
    await driveAll();
  });

  it('resolves for a run that finished while the notification connection was down (re-checks on reconnect)', async () => {
    const logger = memoryLogger();
    const own = createClient({ connectionString: db.url, logger });
    try {
      const run = await own.startFlow(diamond, { n: 100 });
      let settled = false;
      const waited = own.waitForRun(run.runId, { timeout: 20_000 }).finally(() => (settled = true));
      // Once this resolves the client is listening on the flow's channel; the waiter's own first reads are quick.
      await own.onEvent(() => {}, { flow: diamond });
      await sleep(200);
      const admin = await db.connect();
      await withAdminClient((c) => c.query(`alter database "${db.name}" allow_connections false`));
      try {
        await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = 'pgflow-orm client (listen)'`, [
          db.name,
        ]);
        await waitUntil('the client to notice', () => logger.messages('warn').some((message) => message.startsWith('notification connection lost')));
        // The run completes while nobody listens: its run:completed notification is lost.
        const sql = pgflowSql(admin);
        for (let round = 0; round < 3; round++) {
          for (const task of await sql.claimTasks(diamond.slug, workerId, 10)) {
            await sql.completeTask({ runId: task.runId, stepSlug: task.stepSlug, output: await diamond.getStep(task.stepSlug)!.handler(task.input, {} as never) });
          }
        }
        expect((await admin.query(`select status from pgflow.runs where run_id = $1`, [run.runId])).rows).toEqual([{ status: 'completed' }]);
        await sleep(300);
        expect(settled).toBe(false);
      } finally {
        await withAdminClient((c) => c.query(`alter database "${db.name}" allow_connections true`));
      }
      expect(await waited).toEqual({ join: { sum: 203 } });
      expect(logger.messages('info')).toContain('notification connection restored');
    } finally {
      await own.close();
    }
  });
});

describe('onEvent', () => {
  const summary = (event: PgflowEvent) => ('stepSlug' in event ? `${event.type} ${event.stepSlug}` : event.type);

  it('delivers every event of a run in commit order, typed', async () => {
    const events: PgflowEvent[] = [];
    const unsubscribe = await client.onEvent((event) => events.push(event));
    const run = await client.startFlow(diamond, { n: 1 });
    const waited = client.waitForRun(run.runId);
    await driveAll();
    await waited;
    await waitUntil('run:completed', () => events.some((event) => event.type === 'run:completed' && event.runId === run.runId));
    await unsubscribe();
    const ofRun = events.filter((event) => event.runId === run.runId);
    expect(ofRun.map(summary)).toEqual([
      'run:started',
      'step:started start',
      'step:completed start',
      'step:started left',
      'step:started right',
      'step:completed left',
      'step:completed right',
      'step:started join',
      'step:completed join',
      'run:completed',
    ]);
    const [started] = ofRun;
    expect(started).toMatchObject({ type: 'run:started', flowSlug: 'client_diamond', runId: run.runId, status: 'started', remainingSteps: 4 });
    expect(started?.timestamp).toBeInstanceOf(Date);
    const completed = ofRun.find((event) => event.type === 'step:completed');
    expect(completed).toMatchObject({ stepSlug: 'start', status: 'completed' });
    expect(completed?.type === 'step:completed' && completed.completedAt).toBeInstanceOf(Date);
  });

  it('filters by flow and by run, reports failures with their message, and stops after unsubscribe', async () => {
    const other = new Flow({ slug: 'client_other' }).step({ slug: 'only' }, () => 1);
    await ensureFlow(db.pool, other);
    const byFlow: PgflowEvent[] = [];
    const byRun: PgflowEvent[] = [];
    const offFlow = await client.onEvent((event) => byFlow.push(event), { flow: diamond });
    const first = await client.startFlow(diamond, { n: 1 });
    const offRun = await client.onEvent((event) => byRun.push(event), { runId: first.runId });
    const second = await client.startFlow(diamond, { n: 2 });
    await client.startFlow(other, {});
    await drive();
    await drive({ fail: 'left' });
    await waitUntil('both runs to fail', () => byFlow.filter((event) => event.type === 'run:failed').length === 2);

    expect(new Set(byFlow.map((event) => event.flowSlug))).toEqual(new Set(['client_diamond']));
    expect(new Set(byRun.map((event) => event.runId))).toEqual(new Set([first.runId]));
    const failed = byRun.filter((event) => event.type === 'step:failed' || event.type === 'run:failed');
    expect(failed.map(summary)).toEqual(['step:failed left', 'step:failed right', 'run:failed']);
    expect(failed[0]).toMatchObject({ errorMessage: 'left exploded' });
    expect(failed[2]).toMatchObject({ errorMessage: 'left exploded', failedStepSlug: 'left' });
    expect(byFlow.filter((event) => event.runId === second.runId).map(summary)).toContain('run:failed');

    await offFlow();
    await offRun();
    const before = byFlow.length;
    await client.startFlow(diamond, { n: 3 });
    await sleep(200);
    expect(byFlow.length).toBe(before);
    await driveAll();
  });
});

describe('map steps and skipped steps', () => {
  const letters = new Flow<string[]>({ slug: 'client_letters', maxAttempts: 1 })
    .map({ slug: 'upper' }, (letter) => letter.toUpperCase())
    .step({ slug: 'joined', dependsOn: ['upper'] }, ({ upper }) => upper.join(''));
  const gated = new Flow<{ go: boolean }>({ slug: 'client_gated', maxAttempts: 1 })
    .step({ slug: 'always' }, () => 'ran')
    .step({ slug: 'gate', if: { run: { go: true } }, whenUnmet: 'skip-cascade' }, () => 'opened')
    .step({ slug: 'after_gate', dependsOn: ['gate'] }, ({ gate }) => `${gate}!`)
    .step({ slug: 'optional', if: { run: { go: true } } }, () => 1);

  /** Claims and completes every task of the flow with its handler's result until nothing is left. */
  async function driveFlow(flow: typeof letters | typeof gated): Promise<void> {
    const sql = pgflowSql(db.pool);
    for (;;) {
      const tasks = await sql.claimTasks(flow.slug, workerId, 10);
      if (tasks.length === 0) return;
      for (const task of tasks) {
        const output = await flow.getStep(task.stepSlug)!.handler(task.input, { taskIndex: task.taskIndex } as never);
        await sql.completeTask({ runId: task.runId, stepSlug: task.stepSlug, taskIndex: task.taskIndex, output });
      }
    }
  }

  beforeAll(async () => {
    await ensureFlow(db.pool, letters);
    await ensureFlow(db.pool, gated);
  });

  it('starts a root-map flow with an array input, refusing anything else before the database; getRun shows one task per element', async () => {
    await expect(startFlow(db.pool, letters, { letters: ['a'] } as never)).rejects.toThrow(
      'the input of a run of flow "client_letters" must be a JSON array: its map step "upper" maps over the run input',
    );
    await expect(startFlow(db.pool, letters, ['a', new Date()] as never)).rejects.toThrow('$[1] is a Date');
    const run = await client.startFlow(letters, ['p', 'g', 'f']);
    expect(run).toMatchObject({ status: 'started', input: ['p', 'g', 'f'], remainingSteps: 2 });
    const waited = client.waitForRun(run.runId, { timeout: 10_000 });
    await driveFlow(letters);
    expect(await waited).toEqual({ joined: 'PGF' });
    const details = await getRun(db.pool, run.runId);
    expect(details?.tasks.map((task) => [task.stepSlug, task.taskIndex, task.output])).toEqual([
      ['upper', 0, 'P'],
      ['upper', 1, 'G'],
      ['upper', 2, 'F'],
      ['joined', 0, 'PGF'],
    ]);
    expect(details?.steps.map((step) => [step.stepSlug, step.status, step.initialTasks])).toEqual([
      ['upper', 'completed', 3],
      ['joined', 'completed', 1],
    ]);
    // An empty array completes the map step at once with [], and its dependent gets that.
    const empty = await client.startFlow(letters, []);
    expect((await getRun(db.pool, empty.runId))?.steps.map((step) => step.status)).toEqual(['completed', 'started']);
    await driveFlow(letters);
    expect(await client.waitForRun(empty.runId, { timeout: 10_000 })).toEqual({ joined: '' });
  });

  it('shows skipped steps with their reason, sends step:skipped, and completes the run without their keys', async () => {
    const events: PgflowEvent[] = [];
    const unsubscribe = await client.onEvent((event) => events.push(event), { flow: gated });
    const closed = await client.startFlow(gated, { go: false });
    const waited = client.waitForRun(closed.runId, { timeout: 10_000 });
    await driveFlow(gated);
    expect(await waited).toEqual({ always: 'ran' });
    const details = await getRun(db.pool, closed.runId);
    expect(details?.steps.map((step) => [step.stepSlug, step.status, step.skipReason])).toEqual([
      ['always', 'completed', null],
      ['gate', 'skipped', 'condition_unmet'],
      ['after_gate', 'skipped', 'dependency_skipped'],
      ['optional', 'skipped', 'condition_unmet'],
    ]);
    expect(details?.steps[1]?.skippedAt).toBeInstanceOf(Date);
    expect(details?.tasks.map((task) => task.stepSlug)).toEqual(['always']);
    await waitUntil('run:completed', () => events.some((event) => event.type === 'run:completed' && event.runId === closed.runId));
    const skipped = events.filter((event) => event.type === 'step:skipped');
    expect(skipped.map((event) => [event.stepSlug, event.type === 'step:skipped' && event.skipReason])).toEqual([
      ['gate', 'condition_unmet'],
      ['after_gate', 'dependency_skipped'],
      ['optional', 'condition_unmet'],
    ]);
    expect(skipped[0]).toMatchObject({ status: 'skipped', runId: closed.runId, flowSlug: 'client_gated', errorMessage: null });
    expect(skipped[0]?.type === 'step:skipped' && skipped[0].skippedAt).toBeInstanceOf(Date);
    await unsubscribe();

    const open = await client.startFlow(gated, { go: true });
    const opened = client.waitForRun(open.runId, { timeout: 10_000 });
    await driveFlow(gated);
    expect(await opened).toEqual({ always: 'ran', after_gate: 'opened!', optional: 1 });
  });
});
