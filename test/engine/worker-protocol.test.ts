/**
 * The worker protocol: pgmq.read → pgflow.start_tasks → complete_task /
 * fail_task; pgflow.claim_tasks; and the exact calls @pgflow/core@0.8.1's
 * PgflowSqlClient makes (through node-postgres and through postgres.js, the
 * driver PgflowSqlClient is written for, in its 3.4 and 4.x lines).
 */
import type postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { POSTGRES_JS, type PostgresJsSql } from '../support/postgres-js.js';
import {
  completeTask,
  defineFlow,
  errorOf,
  getRun,
  diamondSteps,
  getTask,
  newWorkerId,
  queueRows,
  readMessages,
  startFlow,
  startTasks,
  stepStates,
  takeTask,
  queueTable,
  uniqueSlug,
  visibleIn,
  type MessageRow,
  type StepTaskRow,
  type TaskRecord,
} from './support.js';

const db = useTestDatabase();

describe('pgmq.read → pgflow.start_tasks', () => {
  it('returns step_task_record rows (flow_slug, run_id, step_slug, input, msg_id, task_index) with input {run}', async () => {
    const flow = await defineFlow(db, uniqueSlug('single'), { steps: ['only'] });
    const run = await startFlow(db, flow, { user_id: 123 });
    const messages = await readMessages(db, flow, 60, 10);
    expect(messages).toHaveLength(1);
    const worker = newWorkerId();
    const tasks = await startTasks(
      db,
      flow,
      messages.map((m) => m.msg_id),
      worker,
    );
    expect(tasks).toHaveLength(1);
    expect(Object.keys(tasks[0]!)).toEqual(['flow_slug', 'run_id', 'step_slug', 'input', 'msg_id', 'task_index']);
    expect(tasks[0]).toEqual({ flow_slug: flow, run_id: run.run_id, step_slug: 'only', input: { run: { user_id: 123 } }, msg_id: messages[0]!.msg_id, task_index: 0 });
  });

  it('marks the task started, counts the attempt and records the worker (an unregistered worker id works)', async () => {
    const flow = await defineFlow(db, uniqueSlug('mark'), { steps: ['only'] });
    const run = await startFlow(db, flow);
    const worker = newWorkerId();
    const before = await getTask(db, run.run_id, 'only');
    const [task] = await startTasks(
      db,
      flow,
      (await readMessages(db, flow)).map((m) => m.msg_id),
      worker,
    );
    expect(task).toBeDefined();
    const after = await getTask(db, run.run_id, 'only');
    expect(after).toMatchObject({ status: 'started', attempts_count: 1, last_worker_id: worker, error_message: null, completed_at: null });
    expect(after.started_at).toBeInstanceOf(Date);
    expect(after.started_at!.getTime()).toBeGreaterThanOrEqual(before.queued_at.getTime());
    // The step state was already started when the task was queued.
    expect((await stepStates(db, run.run_id)).only).toMatchObject({ status: 'started', remaining_tasks: 1 });
  });

  it('records a registered worker too', async () => {
    const flow = await defineFlow(db, uniqueSlug('registered'), { steps: ['only'] });
    const run = await startFlow(db, flow);
    const worker = newWorkerId();
    await db.query(`INSERT INTO pgflow.workers (worker_id, queue_name, function_name) VALUES ($1, $2, 'worker_main')`, [worker, flow]);
    await startTasks(
      db,
      flow,
      (await readMessages(db, flow)).map((m) => m.msg_id),
      worker,
    );
    expect((await getTask(db, run.run_id, 'only')).last_worker_id).toBe(worker);
    expect((await db.query(`select function_name from pgflow.workers where worker_id = $1`, [worker]))[0]).toEqual({ function_name: 'worker_main' });
  });

  it('moves the message’s visibility to now + flow timeout + 2 s, whatever vt the read used (decision 6)', async () => {
    const flow = await defineFlow(db, uniqueSlug('vt_flow'), { timeout: 20, steps: ['a', 'b'] });
    await startFlow(db, flow);
    const [a, b] = await readMessages(db, flow, 300, 10);
    expect(await visibleIn(db, flow, a!.msg_id)).toBeGreaterThan(290);
    await startTasks(db, flow, [a!.msg_id, b!.msg_id], newWorkerId());
    for (const message of [a!, b!]) {
      const seconds = await visibleIn(db, flow, message.msg_id);
      expect(seconds).toBeGreaterThan(20);
      expect(seconds).toBeLessThanOrEqual(22.05);
    }
  });

  it('uses the step’s timeout override for the visibility, else the flow’s', async () => {
    const flow = await defineFlow(db, uniqueSlug('vt_step'), { timeout: 60, steps: [{ slug: 'quick', timeout: 5 }, { slug: 'default' }] });
    await startFlow(db, flow);
    const messages = await readMessages(db, flow, 1, 10);
    await startTasks(
      db,
      flow,
      messages.map((m) => m.msg_id),
      newWorkerId(),
    );
    const bySlug = Object.fromEntries((await queueRows(db, flow)).map((m) => [m.message.step_slug, m.visible_in]));
    expect(bySlug.quick).toBeGreaterThan(5);
    expect(bySlug.quick).toBeLessThanOrEqual(7.05);
    expect(bySlug.default).toBeGreaterThan(60);
    expect(bySlug.default).toBeLessThanOrEqual(62.05);
  });

  it('gives a step the outputs of its direct dependencies only, under their slugs, next to run (decision 5)', async () => {
    const flow = await defineFlow(db, uniqueSlug('chain'), {
      steps: [{ slug: 'a' }, { slug: 'b', deps: ['a'] }, { slug: 'c', deps: ['b'] }, { slug: 'd', deps: ['a', 'c'] }],
    });
    const run = await startFlow(db, flow, { n: 1 });
    const worker = newWorkerId();
    const a = await takeTask(db, flow, run.run_id, 'a', worker);
    expect(a.input).toEqual({ run: { n: 1 } });
    await completeTask(db, run.run_id, 'a', { from: 'a' });
    const b = await takeTask(db, flow, run.run_id, 'b', worker);
    expect(b.input).toEqual({ run: { n: 1 }, a: { from: 'a' } });
    await completeTask(db, run.run_id, 'b', ['b', 2]);
    const c = await takeTask(db, flow, run.run_id, 'c', worker);
    // a is a transitive ancestor of c: absent.
    expect(c.input).toEqual({ run: { n: 1 }, b: ['b', 2] });
    await completeTask(db, run.run_id, 'c', 'c-output');
    const d = await takeTask(db, flow, run.run_id, 'd', worker);
    // a is both direct and transitive for d: present; b is only transitive: absent.
    expect(d.input).toEqual({ run: { n: 1 }, a: { from: 'a' }, c: 'c-output' });
  });

  it('the diamond’s join sees both branches but not the start step', async () => {
    const flow = await defineFlow(db, uniqueSlug('diamond'), { steps: diamondSteps });
    const run = await startFlow(db, flow, { k: 'v' });
    await takeTask(db, flow, run.run_id, 'start');
    await completeTask(db, run.run_id, 'start', { s: 1 });
    await takeTask(db, flow, run.run_id, 'branch_a');
    await takeTask(db, flow, run.run_id, 'branch_b');
    await completeTask(db, run.run_id, 'branch_a', { a: 1 });
    await completeTask(db, run.run_id, 'branch_b', { b: 2 });
    const join = await takeTask(db, flow, run.run_id, 'join');
    expect(join.input).toEqual({ run: { k: 'v' }, branch_a: { a: 1 }, branch_b: { b: 2 } });
  });

  it('starts nothing for messages whose task is already started (before its deadline), unknown ids, or another flow', async () => {
    const flow = await defineFlow(db, uniqueSlug('again'), { steps: ['only'] });
    const other = await defineFlow(db, uniqueSlug('other'), { steps: ['only'] });
    const run = await startFlow(db, flow);
    const [message] = await readMessages(db, flow);
    const first = newWorkerId();
    expect(await startTasks(db, flow, [message!.msg_id], first)).toHaveLength(1);
    expect(await startTasks(db, flow, [message!.msg_id], newWorkerId())).toEqual([]);
    expect(await startTasks(db, flow, [999_999], newWorkerId())).toEqual([]);
    expect(await startTasks(db, flow, [], newWorkerId())).toEqual([]);
    expect(await startTasks(db, other, [message!.msg_id], newWorkerId())).toEqual([]);
    expect(await getTask(db, run.run_id, 'only')).toMatchObject({ status: 'started', attempts_count: 1, last_worker_id: first });
  });

  it('several messages in one call: every task starts with its own input', async () => {
    const flow = await defineFlow(db, uniqueSlug('batch'), { steps: ['a', 'b', 'c'] });
    const runs = [await startFlow(db, flow, { i: 1 }), await startFlow(db, flow, { i: 2 })];
    const messages = await readMessages(db, flow, 30, 10);
    expect(messages).toHaveLength(6);
    const tasks = await startTasks(
      db,
      flow,
      messages.map((m) => m.msg_id),
      newWorkerId(),
    );
    expect(tasks).toHaveLength(6);
    for (const task of tasks) {
      const run = runs.find((r) => r.run_id === task.run_id)!;
      expect(task.input).toEqual({ run: run.input });
      expect(messages.find((m) => m.msg_id === task.msg_id)!.message).toEqual({ flow_slug: flow, run_id: task.run_id, step_slug: task.step_slug, task_index: 0 });
    }
  });
});

describe('flow slugs at the edges', () => {
  it('a slug with capital letters and one of 47 characters run end to end through their queues', async () => {
    for (const flow of [uniqueSlug('CamelCase_Flow'), `L${'o'.repeat(46)}`]) {
      await defineFlow(db, flow, { steps: ['first', { slug: 'second', deps: ['first'] }] });
      const run = await startFlow(db, flow, { flow });
      const worker = newWorkerId();
      for (const step of ['first', 'second']) {
        const messages = await db.query<MessageRow>(`select * from pgmq.read($1, 30, 10)`, [flow]);
        expect(messages.map((m) => m.message.step_slug), flow).toEqual([step]);
        const [task] = await startTasks(db, flow, [messages[0]!.msg_id], worker);
        expect(task!.step_slug).toBe(step);
        expect(await completeTask(db, run.run_id, step, { step })).toHaveLength(1);
      }
      expect((await getRun(db, run.run_id)).output, flow).toEqual({ second: { step: 'second' } });
    }
  });
});

describe('unknown flows', () => {
  it('start_tasks and claim_tasks name the unknown flow', async () => {
    for (const call of [`select * from pgflow.start_tasks('no_such_flow', array[1::bigint], $1::uuid)`, `select * from pgflow.claim_tasks('no_such_flow', $1::uuid, 10)`]) {
      const error = await errorOf(() => db.query(call, [newWorkerId()]));
      expect(error.message, call).toContain('no_such_flow');
    }
  });
});

describe('bad arguments to claim_tasks and start_tasks', () => {
  /** What a refused call must leave as it was: the messages (read_ct, vt), the tasks and the workers. */
  async function snapshot(flow: string, runId: string) {
    return {
      messages: await db.query(`select msg_id, read_ct, vt from pgmq.${queueTable(flow, 'q')} order by msg_id`),
      tasks: await db.query(`select step_slug, status, attempts_count, last_worker_id from pgflow.step_tasks where run_id = $1 order by step_slug`, [runId]),
      workers: await db.query(`select count(*)::int as n from pgflow.workers`),
    };
  }

  it.each([
    ['qty 0', 0, true, '22023', 'qty must be 1 or more, got 0'],
    ['a negative qty', -3, true, '22023', 'qty must be 1 or more, got -3'],
    ['a NULL qty', null, true, '22004', 'qty must not be NULL'],
    ['a NULL worker_id', 10, false, '22004', 'worker_id must not be NULL'],
  ])('claim_tasks with %s is refused and claims nothing', async (_what, qty, withWorker, code, message) => {
    const flow = await defineFlow(db, uniqueSlug('claim_bad'), { steps: ['a', 'b'] });
    const run = await startFlow(db, flow);
    const before = await snapshot(flow, run.run_id);
    const error = await errorOf(() => db.query(`select * from pgflow.claim_tasks($1, $2::uuid, $3::int)`, [flow, withWorker ? newWorkerId() : null, qty]));
    expect([error.code, error.message]).toEqual([code, message]);
    expect(await snapshot(flow, run.run_id)).toEqual(before);
    // Both messages were still visible and unread.
    expect((await readMessages(db, flow, 0)).map((m) => m.read_ct)).toEqual([1, 1]);
  });

  it('start_tasks with a NULL worker_id is refused and starts nothing', async () => {
    const flow = await defineFlow(db, uniqueSlug('start_null_worker'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    const [message] = await readMessages(db, flow, 0, 1);
    const before = await snapshot(flow, run.run_id);
    for (const sql of [
      `select * from pgflow.start_tasks($1, array[$2::bigint], null)`,
      `select * from pgflow.start_tasks(flow_slug => $1, msg_ids => array[$2::bigint], worker_id => null::uuid)`,
    ]) {
      const error = await errorOf(() => db.query(sql, [flow, message!.msg_id]));
      expect([error.code, error.message, error.hint], sql).toEqual([
        '22004',
        'worker_id must not be NULL',
        "Pass the worker's id: any UUID, registered on first use (or with pgflow.register_worker).",
      ]);
    }
    expect(await snapshot(flow, run.run_id)).toEqual(before);
    expect(await getTask(db, run.run_id, 'a')).toMatchObject({ status: 'queued', attempts_count: 0, last_worker_id: null });
  });
});

describe('pgflow.claim_tasks', () => {
  it('reads and starts up to qty tasks in one call', async () => {
    const flow = await defineFlow(db, uniqueSlug('claim'), { timeout: 30, steps: ['a', 'b', 'c'] });
    const run = await startFlow(db, flow, { c: true });
    const worker = newWorkerId();
    const first = await db.query<TaskRecord>(`select * from pgflow.claim_tasks($1, $2::uuid, 2)`, [flow, worker]);
    expect(first).toHaveLength(2);
    for (const task of first) {
      expect(task).toMatchObject({ flow_slug: flow, run_id: run.run_id, input: { run: { c: true } }, task_index: 0 });
      expect(await getTask(db, run.run_id, task.step_slug)).toMatchObject({ status: 'started', attempts_count: 1, last_worker_id: worker });
      const seconds = await visibleIn(db, flow, task.msg_id);
      expect(seconds).toBeGreaterThan(30);
      expect(seconds).toBeLessThanOrEqual(32.05);
    }
    const rest = await db.query<TaskRecord>(`select * from pgflow.claim_tasks(flow_slug => $1, worker_id => $2::uuid)`, [flow, worker]);
    expect(rest.map((t) => t.step_slug)).toEqual(['a', 'b', 'c'].filter((s) => !first.some((t) => t.step_slug === s)));
    expect(await db.query(`select * from pgflow.claim_tasks($1, $2::uuid, 10)`, [flow, worker])).toEqual([]);
  });

  it('returns the attempt each start counts', async () => {
    const flow = await defineFlow(db, uniqueSlug('claim_attempt'), { maxAttempts: 3, baseDelay: 0, steps: ['only'] });
    const run = await startFlow(db, flow, {});
    const worker = newWorkerId();
    const [first] = await db.query<TaskRecord & { attempts_count: number }>(`select * from pgflow.claim_tasks($1, $2::uuid, 1)`, [flow, worker]);
    expect(first).toMatchObject({ step_slug: 'only', attempts_count: 1 });
    await db.query(`select pgflow.fail_task($1, 'only', 0, 'first attempt fails')`, [run.run_id]);
    const [second] = await db.query<TaskRecord & { attempts_count: number }>(`select * from pgflow.claim_tasks($1, $2::uuid, 1)`, [flow, worker]);
    expect(second).toMatchObject({ step_slug: 'only', attempts_count: 2 });
  });
});

describe('the calls of @pgflow/core@0.8.1 PgflowSqlClient', () => {
  it('work unchanged through node-postgres', async () => {
    const flow = await defineFlow(db, uniqueSlug('core_pg'), { steps: [{ slug: 'first' }, { slug: 'second', deps: ['first'] }, { slug: 'flaky' }] });
    const [run] = await db.query<{ run_id: string; status: string }>(`SELECT * FROM pgflow.start_flow(flow_slug => $1::text, input => $2::jsonb)`, [
      flow,
      JSON.stringify({ via: 'pg' }),
    ]);
    expect(run!.status).toBe('started');
    const [withId] = await db.query<{ run_id: string }>(`SELECT * FROM pgflow.start_flow(flow_slug => $1::text, input => $2::jsonb, run_id => $3::uuid)`, [
      flow,
      '{}',
      '11111111-2222-4333-8444-555555555555',
    ]);
    expect(withId!.run_id).toBe('11111111-2222-4333-8444-555555555555');

    const worker = newWorkerId();
    const read = () =>
      db.query<MessageRow>(`SELECT * FROM pgmq.read_with_poll(queue_name => $1, vt => $2, qty => $3, max_poll_seconds => $4, poll_interval_ms => $5)`, [
        flow,
        30,
        10,
        1,
        100,
      ]);
    const messages = (await read()).filter((m) => m.message.run_id === run!.run_id);
    expect(messages.map((m) => m.message.step_slug).sort()).toEqual(['first', 'flaky']);
    const tasks = await db.query<TaskRecord>(`SELECT * FROM pgflow.start_tasks(flow_slug => $1, msg_ids => $2::bigint[], worker_id => $3::uuid)`, [
      flow,
      messages.map((m) => m.msg_id),
      worker,
    ]);
    expect(tasks).toHaveLength(2);
    const completed = await db.query(`SELECT pgflow.complete_task(run_id => $1::uuid, step_slug => $2::text, task_index => $3::int, output => $4::jsonb)`, [
      run!.run_id,
      'first',
      0,
      JSON.stringify({ ok: 1 }),
    ]);
    expect(completed).toHaveLength(1);
    const failed = await db.query(`SELECT pgflow.fail_task(run_id => $1::uuid, step_slug => $2::text, task_index => $3::int, error_message => $4::text)`, [
      run!.run_id,
      'flaky',
      0,
      'boom',
    ]);
    expect(failed).toHaveLength(1);
    expect(await getTask(db, run!.run_id, 'flaky')).toMatchObject({ status: 'queued', attempts_count: 1, error_message: 'boom' });
    expect(await getTask(db, run!.run_id, 'first')).toMatchObject({ status: 'completed', output: { ok: 1 } });
    expect((await stepStates(db, run!.run_id)).second).toMatchObject({ status: 'started' });
  });

  describe.each(POSTGRES_JS)('through $name', (driver) => {
    let sql: PostgresJsSql | undefined;
    afterAll(async () => {
      await sql?.end();
    });

    it('start_flow, read_with_poll, start_tasks, complete_task (falsy outputs as NULL), fail_task', async () => {
      sql = driver.connect(db.url, { max: 2, onnotice: () => {} });
      const flow = await defineFlow(db, uniqueSlug(`core_js${driver.major}`), {
        baseDelay: 1,
        steps: [{ slug: 'first' }, { slug: 'zero', deps: ['first'] }, { slug: 'flaky' }],
      });
      const input = { via: 'postgres.js' };
      const [run] = await sql<{ run_id: string; status: string }[]>`SELECT * FROM pgflow.start_flow(flow_slug => ${flow}::text, input => ${sql.json(input)}::jsonb)`;
      expect(run!.status).toBe('started');
      const runId = `22222222-3333-4444-8555-66666666666${driver.major}`;
      const [withId] = await sql<{ run_id: string }[]>`SELECT * FROM pgflow.start_flow(flow_slug => ${flow}::text, input => ${sql.json({})}::jsonb, run_id => ${runId}::uuid)`;
      expect(withId!.run_id).toBe(runId);

      const workerId = newWorkerId();
      const readMessagesJs = () =>
        sql!<MessageRow[]>`SELECT * FROM pgmq.read_with_poll(queue_name => ${flow}, vt => ${30}, qty => ${10}, max_poll_seconds => ${1}, poll_interval_ms => ${100})`;
      const messages = (await readMessagesJs()).filter((m) => m.message.run_id === run!.run_id);
      expect(messages.map((m) => m.message.step_slug).sort()).toEqual(['first', 'flaky']);
      const msgIds = messages.map((m) => m.msg_id);
      const tasks = await sql<TaskRecord[]>`SELECT * FROM pgflow.start_tasks(flow_slug => ${flow}, msg_ids => ${msgIds}::bigint[], worker_id => ${workerId}::uuid)`;
      expect(tasks.map((t) => t.step_slug).sort()).toEqual(['first', 'flaky']);
      expect(tasks.find((t) => t.step_slug === 'first')!.input).toEqual({ run: input });

      const complete = (stepSlug: string, output: unknown) =>
        sql!`SELECT pgflow.complete_task(run_id => ${run!.run_id}::uuid, step_slug => ${stepSlug}::text, task_index => ${0}::int, output => ${sql!.json((output || null) as postgres.JSONValue)}::jsonb)`;
      expect(await complete('first', 0)).toHaveLength(1);
      expect((await getTask(db, run!.run_id, 'first')).output).toBeNull();

      const fail = (stepSlug: string, message: string) =>
        sql!`SELECT pgflow.fail_task(run_id => ${run!.run_id}::uuid, step_slug => ${stepSlug}::text, task_index => ${0}::int, error_message => ${message}::text)`;
      expect(await fail('flaky', 'Error: nope')).toHaveLength(1);
      expect(await getTask(db, run!.run_id, 'flaky')).toMatchObject({ status: 'queued', attempts_count: 1, error_message: 'Error: nope' });

      // The dependent sees the (null) output of its dependency under its slug.
      const next = (await readMessagesJs()).filter((m) => m.message.run_id === run!.run_id && m.message.step_slug === 'zero');
      const [zero] = await sql<TaskRecord[]>`SELECT * FROM pgflow.start_tasks(flow_slug => ${flow}, msg_ids => ${next.map((m) => m.msg_id)}::bigint[], worker_id => ${workerId}::uuid)`;
      expect(zero!.input).toEqual({ run: input, first: null });
      expect(await complete('zero', { done: true })).toHaveLength(1);
      expect((await stepStates(db, run!.run_id)).zero!.status).toBe('completed');
    });
  });
});

describe('complete_task / fail_task return the task row', () => {
  it('with every step_tasks column', async () => {
    const flow = await defineFlow(db, uniqueSlug('returns'), { steps: ['a', 'b'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    await takeTask(db, flow, run.run_id, 'b');
    const [completed] = await completeTask(db, run.run_id, 'a', { x: 1 });
    const stored = await getTask(db, run.run_id, 'a');
    expect(completed).toEqual(stored);
    expect(Object.keys(completed!).sort()).toEqual(
      [
        'flow_slug',
        'run_id',
        'step_slug',
        'message_id',
        'task_index',
        'status',
        'attempts_count',
        'error_message',
        'output',
        'queued_at',
        'started_at',
        'completed_at',
        'failed_at',
        'last_worker_id',
        'cancelled_at',
      ].sort(),
    );
    const [failed] = await db.query<StepTaskRow>(`select * from pgflow.fail_task($1, 'b', 0, 'nope')`, [run.run_id]);
    expect(failed).toEqual(await getTask(db, run.run_id, 'b'));
  });
});
