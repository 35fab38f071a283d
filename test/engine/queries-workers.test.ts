/**
 * The rest of the SQL API: get_run_with_states / start_flow_with_states
 * ({run, steps}), set_vt_batch, the deprecated poll_for_tasks, the worker
 * functions of decision 9, and the internal steps a caller may invoke
 * directly (start_ready_steps, maybe_complete_run, cascade_complete_taskless_steps).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import {
  completeTask,
  defineFlow,
  diamondSteps,
  errorOf,
  getRun,
  getTask,
  queueRows,
  queueTable,
  readMessages,
  sleep,
  startFlow,
  stepStates,
  takeTask,
  uniqueSlug,
  visibleIn,
  type TaskRecord,
} from './support.js';

const db = useTestDatabase();

const RUN_KEYS = ['cancel_reason', 'cancelled_at', 'completed_at', 'failed_at', 'flow_slug', 'idempotency_key', 'input', 'output', 'remaining_steps', 'run_id', 'started_at', 'status'];
const STEP_KEYS = [
  'cancelled_at',
  'completed_at',
  'created_at',
  'error_message',
  'failed_at',
  'flow_slug',
  'initial_tasks',
  'remaining_deps',
  'remaining_tasks',
  'run_id',
  'skip_reason',
  'skipped_at',
  'started_at',
  'status',
  'step_slug',
];

interface RunWithStates {
  run: Record<string, unknown>;
  steps: Record<string, unknown>[];
}

describe('pgflow.get_run_with_states', () => {
  it('returns {run, steps} with the run row and every step state', async () => {
    const flow = await defineFlow(db, uniqueSlug('states'), { steps: diamondSteps });
    const run = await startFlow(db, flow, { q: 1 });
    await takeTask(db, flow, run.run_id, 'start');
    await completeTask(db, run.run_id, 'start', { s: 1 });
    const [{ state }] = (await db.query<{ state: RunWithStates }>(`select pgflow.get_run_with_states($1) as state`, [run.run_id])) as [{ state: RunWithStates }];
    expect(Object.keys(state).sort()).toEqual(['run', 'steps']);
    expect(Object.keys(state.run).sort()).toEqual(RUN_KEYS);
    expect(state.run).toMatchObject({ run_id: run.run_id, flow_slug: flow, status: 'started', input: { q: 1 }, output: null, remaining_steps: 3 });
    expect(typeof state.run.started_at).toBe('string');
    expect(new Date(state.run.started_at as string).getTime()).toBe(run.started_at.getTime());
    expect(state.steps).toHaveLength(4);
    for (const step of state.steps) expect(Object.keys(step).sort()).toEqual(STEP_KEYS);
    const bySlug = Object.fromEntries(state.steps.map((s) => [s.step_slug, s]));
    expect(bySlug.start).toMatchObject({ status: 'completed', remaining_tasks: 0, remaining_deps: 0, run_id: run.run_id });
    expect(bySlug.branch_a).toMatchObject({ status: 'started', remaining_deps: 0 });
    expect(bySlug.join).toMatchObject({ status: 'created', remaining_deps: 2, remaining_tasks: null });
  });

  it('returns NULL for an unknown run', async () => {
    const rows = await db.query(`select pgflow.get_run_with_states($1) as state`, [randomUUID()]);
    expect(rows).toEqual([{ state: null }]);
  });
});

describe('pgflow.start_flow_with_states', () => {
  it('starts a run and returns it as {run, steps}', async () => {
    const flow = await defineFlow(db, uniqueSlug('start_states'), { steps: [{ slug: 'a' }, { slug: 'b', deps: ['a'] }] });
    const runId = randomUUID();
    const [{ state }] = (await db.query<{ state: RunWithStates }>(
      `select pgflow.start_flow_with_states(flow_slug => $1, input => $2::jsonb, run_id => $3::uuid) as state`,
      [flow, '{"k": "v"}', runId],
    )) as [{ state: RunWithStates | null }];
    // The run was created either way; what comes back must describe it.
    expect((await getRun(db, runId)).status).toBe('started');
    expect(state, 'start_flow_with_states returned NULL for the run it just started').not.toBeNull();
    if (state === null) return;
    expect(state.run).toMatchObject({ run_id: runId, flow_slug: flow, status: 'started', input: { k: 'v' }, remaining_steps: 2 });
    const bySlug = Object.fromEntries(state.steps.map((s) => [s.step_slug, s]));
    expect(bySlug.a).toMatchObject({ status: 'started', remaining_deps: 0 });
    expect(bySlug.b).toMatchObject({ status: 'created', remaining_deps: 1, remaining_tasks: null });
    // The root task is queued.
    expect((await readMessages(db, flow)).map((m) => m.message.step_slug)).toEqual(['a']);
    const [{ again }] = (await db.query<{ again: RunWithStates }>(`select pgflow.get_run_with_states($1) as again`, [runId])) as [{ again: RunWithStates }];
    expect(again).toEqual(state);
    // Positional, without a run_id.
    const [{ generated }] = (await db.query<{ generated: RunWithStates }>(`select pgflow.start_flow_with_states($1, '{}'::jsonb) as generated`, [flow])) as [
      { generated: RunWithStates },
    ];
    expect(generated.run.status).toBe('started');
  });

  it('passes start_flow’s errors on', async () => {
    const flow = await defineFlow(db, uniqueSlug('start_states_bad'), { steps: ['a'] });
    const error = await errorOf(() => db.query(`select pgflow.start_flow_with_states($1, '[]'::jsonb)`, [flow]));
    expect(error.message).toMatch(/object/);
  });
});

describe('pgflow.set_vt_batch', () => {
  it('sets each message’s visibility to now + its own offset and returns the messages', async () => {
    const flow = await defineFlow(db, uniqueSlug('vt_batch'), { steps: ['a', 'b', 'c'] });
    await startFlow(db, flow);
    const ids = (await queueRows(db, flow)).map((m) => m.msg_id);
    const rows = await db.query<{ msg_id: string; read_ct: number; vt: Date; message: unknown; headers: unknown; enqueued_at: Date }>(
      `select * from pgflow.set_vt_batch($1, $2::bigint[], $3::int[])`,
      [flow, ids, [10, 0, 100]],
    );
    expect(rows).toHaveLength(3);
    expect(Object.keys(rows[0]!).sort()).toEqual(['enqueued_at', 'headers', 'message', 'msg_id', 'read_ct', 'vt']);
    expect(rows.map((r) => r.msg_id).sort()).toEqual([...ids].sort());
    const [a, b, c] = await Promise.all(ids.map((id) => visibleIn(db, flow, id)));
    expect(a).toBeGreaterThan(9);
    expect(a).toBeLessThanOrEqual(10.05);
    expect(b).toBeLessThanOrEqual(0);
    expect(c).toBeGreaterThan(99);
    expect(rows.every((r) => r.read_ct === 0)).toBe(true);
    expect((await readMessages(db, flow)).map((m) => m.msg_id)).toEqual([ids[1]]);
  });

  it('returns nothing for empty input and refuses arrays of different lengths', async () => {
    const flow = await defineFlow(db, uniqueSlug('vt_batch_bad'), { steps: ['a'] });
    await startFlow(db, flow);
    expect(await db.query(`select * from pgflow.set_vt_batch($1, '{}'::bigint[], '{}'::int[])`, [flow])).toEqual([]);
    const error = await errorOf(() => db.query(`select * from pgflow.set_vt_batch($1, '{1,2}'::bigint[], '{5}'::int[])`, [flow]));
    expect(error.message).toMatch(/length/);
  });

  it('refuses a NULL offset, naming its position, and moves no message', async () => {
    const flow = await defineFlow(db, uniqueSlug('vt_batch_null'), { steps: ['a', 'b'] });
    await startFlow(db, flow);
    const ids = (await queueRows(db, flow)).map((m) => m.msg_id);
    const before = await db.query(`select msg_id, read_ct, vt from pgmq.${queueTable(flow, 'q')} order by msg_id`);
    const error = await errorOf(() => db.query(`select * from pgflow.set_vt_batch($1, $2::bigint[], array[30, null]::int[])`, [flow, ids]));
    expect([error.code, error.message]).toEqual(['22004', `vt_offsets[2] is NULL (for msg_id ${ids[1]})`]);
    expect(await db.query(`select msg_id, read_ct, vt from pgmq.${queueTable(flow, 'q')} order by msg_id`)).toEqual(before);
  });

  it('takes a negative offset as pgmq.set_vt does: the message is visible at once', async () => {
    const flow = await defineFlow(db, uniqueSlug('vt_batch_negative'), { steps: ['a'] });
    await startFlow(db, flow);
    const [message] = await readMessages(db, flow, 300, 1);
    expect(await readMessages(db, flow)).toEqual([]);
    await db.query(`select * from pgflow.set_vt_batch($1, array[$2::bigint], array[-5])`, [flow, message!.msg_id]);
    expect((await readMessages(db, flow)).map((m) => m.msg_id)).toEqual([message!.msg_id]);
  });
});

describe('pgflow.poll_for_tasks (deprecated)', () => {
  it('still hands out started tasks with their input', async () => {
    const flow = await defineFlow(db, uniqueSlug('poll'), { steps: ['a', { slug: 'b', deps: ['a'] }] });
    const run = await startFlow(db, flow, { p: 1 });
    const tasks = await db.query<TaskRecord>(`select * from pgflow.poll_for_tasks($1, 30, 10)`, [flow]);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ flow_slug: flow, run_id: run.run_id, step_slug: 'a', input: { run: { p: 1 } }, task_index: 0 });
    expect(await getTask(db, run.run_id, 'a')).toMatchObject({ status: 'started', attempts_count: 1 });
    await completeTask(db, run.run_id, 'a', 'A');
    const next = await db.query<TaskRecord>(`select * from pgflow.poll_for_tasks(queue_name => $1, vt => 30, qty => 10, max_poll_seconds => 1, poll_interval_ms => 50)`, [
      flow,
    ]);
    expect(next.map((t) => [t.step_slug, t.input])).toEqual([['b', { run: { p: 1 }, a: 'A' }]]);
  });

  it('returns nothing once its polling time is up', async () => {
    const flow = await defineFlow(db, uniqueSlug('poll_empty'), { steps: ['a'] });
    expect(await db.query(`select * from pgflow.poll_for_tasks($1, 30, 10, 1, 50)`, [flow])).toEqual([]);
  });

  it('records no worker on the tasks it starts', async () => {
    const flow = await defineFlow(db, uniqueSlug('poll_no_worker'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    expect(await db.query(`select * from pgflow.poll_for_tasks($1, 30, 10, 1, 50)`, [flow])).toHaveLength(1);
    expect(await getTask(db, run.run_id, 'a')).toMatchObject({ status: 'started', attempts_count: 1, last_worker_id: null });
  });

  it.each([
    ['a negative vt', [-1, 10, 1, 50], '22023', 'vt must be 0 or more seconds, got -1'],
    ['a NULL vt', [null, 10, 1, 50], '22004', 'vt must not be NULL'],
    ['qty 0', [30, 0, 1, 50], '22023', 'qty must be 1 or more, got 0'],
    ['a negative qty', [30, -1, 1, 50], '22023', 'qty must be 1 or more, got -1'],
    ['a NULL qty', [30, null, 1, 50], '22004', 'qty must not be NULL'],
    ['a NULL max_poll_seconds', [30, 10, null, 50], '22004', 'max_poll_seconds must not be NULL'],
    ['a NULL poll_interval_ms', [30, 10, 1, null], '22004', 'poll_interval_ms must not be NULL'],
    ['a negative poll_interval_ms', [30, 10, 1, -1], '22023', 'poll_interval_ms must be 0 or more, got -1'],
  ])('refuses %s before reading anything', async (_what, args, code, message) => {
    const flow = await defineFlow(db, uniqueSlug('poll_bad'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    const before = await db.query(`select msg_id, read_ct, vt from pgmq.${queueTable(flow, 'q')} order by msg_id`);
    const error = await errorOf(() => db.query(`select * from pgflow.poll_for_tasks($1, $2::int, $3::int, $4::int, $5::int)`, [flow, ...args]));
    expect([error.code, error.message]).toEqual([code, message]);
    expect(await db.query(`select msg_id, read_ct, vt from pgmq.${queueTable(flow, 'q')} order by msg_id`)).toEqual(before);
    expect(await getTask(db, run.run_id, 'a')).toMatchObject({ status: 'queued', attempts_count: 0 });
  });
});

describe('workers (decision 9)', () => {
  interface WorkerRow {
    worker_id: string;
    queue_name: string;
    function_name: string;
    started_at: Date;
    stopped_at: Date | null;
    deprecated_at: Date | null;
    last_heartbeat_at: Date;
  }
  const workerRow = async (id: string) => (await db.query<WorkerRow>(`select * from pgflow.workers where worker_id = $1`, [id]))[0];

  it('register_worker returns the row; registering again is idempotent', async () => {
    const id = randomUUID();
    const [first] = await db.query<WorkerRow>(`select * from pgflow.register_worker($1, 'queue_one', 'handler_one')`, [id]);
    expect(first).toMatchObject({ worker_id: id, queue_name: 'queue_one', function_name: 'handler_one', stopped_at: null, deprecated_at: null });
    expect(first!.started_at).toBeInstanceOf(Date);
    expect(first!.last_heartbeat_at).toBeInstanceOf(Date);
    const [again] = await db.query<WorkerRow>(`select * from pgflow.register_worker(worker_id => $1, queue_name => 'queue_one', function_name => 'handler_one')`, [id]);
    expect(again).toMatchObject({ worker_id: id, queue_name: 'queue_one', function_name: 'handler_one' });
    expect(again!.started_at).toEqual(first!.started_at);
    expect((await db.query(`select 1 from pgflow.workers where worker_id = $1`, [id])).length).toBe(1);
  });

  it('heartbeat_worker moves last_heartbeat_at; stop_worker sets stopped_at', async () => {
    const id = randomUUID();
    await db.query(`select pgflow.register_worker($1, 'queue_two', 'handler_two')`, [id]);
    const before = (await workerRow(id))!;
    await sleep(20);
    const [beat] = await db.query(`select pgflow.heartbeat_worker($1) as result`, [id]);
    expect(beat).toEqual({ result: '' });
    const after = (await workerRow(id))!;
    expect(after.last_heartbeat_at.getTime()).toBeGreaterThan(before.last_heartbeat_at.getTime());
    expect(after.stopped_at).toBeNull();
    await db.query(`select pgflow.stop_worker($1)`, [id]);
    const stopped = (await workerRow(id))!;
    expect(stopped.stopped_at).toBeInstanceOf(Date);
    expect(stopped.stopped_at!.getTime()).toBeGreaterThanOrEqual(after.last_heartbeat_at.getTime());
  });

  it('the workers table takes the reference’s plain INSERT / UPDATE', async () => {
    const [row] = await db.query<WorkerRow>(
      `INSERT INTO pgflow.workers (worker_id, queue_name, function_name) VALUES (gen_random_uuid(), 'etl_pipeline', 'worker_main') RETURNING *`,
    );
    expect(row).toMatchObject({ queue_name: 'etl_pipeline', function_name: 'worker_main', stopped_at: null, deprecated_at: null });
    await db.query(`UPDATE pgflow.workers SET last_heartbeat_at = now() WHERE worker_id = $1`, [row!.worker_id]);
    await db.query(`UPDATE pgflow.workers SET stopped_at = now() WHERE worker_id = $1`, [row!.worker_id]);
    expect((await workerRow(row!.worker_id))!.stopped_at).toBeInstanceOf(Date);
    // The reference's health query runs.
    await db.query(
      `SELECT worker_id, queue_name, last_heartbeat_at, now() - last_heartbeat_at AS staleness
       FROM pgflow.workers WHERE stopped_at IS NULL AND last_heartbeat_at < now() - interval '5 minutes' ORDER BY staleness DESC`,
    );
  });

  it('a registered worker that starts tasks is recorded on them', async () => {
    const flow = await defineFlow(db, uniqueSlug('worker_flow'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    const id = randomUUID();
    await db.query(`select pgflow.register_worker($1, $2, 'handler')`, [id, flow]);
    await takeTask(db, flow, run.run_id, 'a', id);
    expect((await getTask(db, run.run_id, 'a')).last_worker_id).toBe(id);
  });
});

describe('internal steps called directly', () => {
  it('start_ready_steps, cascade_complete_taskless_steps and maybe_complete_run are safe to repeat', async () => {
    const flow = await defineFlow(db, uniqueSlug('internals'), { steps: [{ slug: 'a' }, { slug: 'b', deps: ['a'] }] });
    const run = await startFlow(db, flow);
    for (let i = 0; i < 2; i += 1) {
      await db.query(`select pgflow.start_ready_steps($1)`, [run.run_id]);
      const [{ n }] = (await db.query<{ n: number }>(`select pgflow.cascade_complete_taskless_steps($1) as n`, [run.run_id])) as [{ n: number }];
      expect(n).toBe(0);
      await db.query(`select pgflow.maybe_complete_run($1)`, [run.run_id]);
    }
    // Still one task for a, none for b, and the run is not completed early.
    expect((await queueRows(db, flow)).map((m) => m.message.step_slug)).toEqual(['a']);
    expect((await stepStates(db, run.run_id)).b).toMatchObject({ status: 'created', remaining_deps: 1 });
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'started', remaining_steps: 2 });
    await takeTask(db, flow, run.run_id, 'a');
    await completeTask(db, run.run_id, 'a', 1);
    await db.query(`select pgflow.start_ready_steps($1)`, [run.run_id]);
    expect((await queueRows(db, flow)).map((m) => m.message.step_slug)).toEqual(['b']);
    await takeTask(db, flow, run.run_id, 'b');
    await completeTask(db, run.run_id, 'b', 2);
    const done = await getRun(db, run.run_id);
    await db.query(`select pgflow.maybe_complete_run($1)`, [run.run_id]);
    expect(await getRun(db, run.run_id)).toEqual(done);
    expect(done).toMatchObject({ status: 'completed', output: { b: 2 } });
  });
});

describe('the installation (decision 12) and the reference’s queries', () => {
  it('schema pgflow holds the seven tables, those of schedules and role_access, and pgflow.version() names the installed release', async () => {
    const tables = await db.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'pgflow' ORDER BY tablename`);
    expect(tables.map((t) => t.tablename)).toEqual(['deps', 'flows', 'role_access', 'runs', 'schedule_ticks', 'schedules', 'step_states', 'step_tasks', 'steps', 'workers']);
    const [{ count }] = (await db.query<{ count: string }>(`SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'pgflow'`)) as [{ count: string }];
    // The reference's seven, the two tables of schedules and the access levels (decision 12 allows tables that features need).
    expect(Number(count)).toBe(10);
    const [{ functions }] = (await db.query<{ functions: number }>(
      `SELECT COUNT(*)::int AS functions FROM pg_proc p JOIN pg_namespace n ON p.pronamespace = n.oid WHERE n.nspname = 'pgflow'`,
    )) as [{ functions: number }];
    expect(functions).toBeGreaterThanOrEqual(14);
    const [{ version }] = (await db.query<{ version: string }>(`select pgflow.version() as version`)) as [{ version: string }];
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('the composite type pgflow.step_task_record has the attributes of 0.8.1, in order', async () => {
    const attributes = await db.query<{ attname: string; type: string }>(
      `select a.attname, format_type(a.atttypid, a.atttypmod) as type
       from pg_attribute a join pg_type t on t.typrelid = a.attrelid join pg_namespace n on n.oid = t.typnamespace
       where n.nspname = 'pgflow' and t.typname = 'step_task_record' and a.attnum > 0 and not a.attisdropped
       order by a.attnum`,
    );
    expect(attributes.map((a) => [a.attname, a.type])).toEqual([
      ['flow_slug', 'text'],
      ['run_id', 'uuid'],
      ['step_slug', 'text'],
      ['input', 'jsonb'],
      ['msg_id', 'bigint'],
      ['task_index', 'integer'],
    ]);
  });

  it('the reference’s monitoring and troubleshooting queries run and report a completed and a failed run', async () => {
    const flow = await defineFlow(db, uniqueSlug('monitored'), { maxAttempts: 1, steps: ['a'] });
    const ok = await startFlow(db, flow);
    await takeTask(db, flow, ok.run_id, 'a');
    await completeTask(db, ok.run_id, 'a', 1);
    const bad = await startFlow(db, flow);
    await takeTask(db, flow, bad.run_id, 'a');
    await db.query(`SELECT pgflow.fail_task($1, 'a', 0, 'Worker timeout')`, [bad.run_id]);

    const failedTasks = await db.query(
      `SELECT r.flow_slug, ss.step_slug, st.error_message
       FROM pgflow.step_tasks st
       JOIN pgflow.runs r ON st.run_id = r.run_id
       JOIN pgflow.step_states ss ON st.run_id = ss.run_id AND st.step_slug = ss.step_slug
       WHERE st.status = 'failed' AND r.flow_slug = $1`,
      [flow],
    );
    expect(failedTasks).toEqual([{ flow_slug: flow, step_slug: 'a', error_message: 'Worker timeout' }]);
    const times = await db.query<{ flow_slug: string; avg_seconds: string }>(
      `SELECT flow_slug, AVG(EXTRACT(EPOCH FROM (completed_at - started_at))) as avg_seconds
       FROM pgflow.runs WHERE status = 'completed' AND flow_slug = $1 GROUP BY flow_slug`,
      [flow],
    );
    expect(times).toHaveLength(1);
    expect(Number(times[0]!.avg_seconds)).toBeGreaterThanOrEqual(0);
    const byStatus = await db.query(`SELECT status, count(*)::int AS n FROM pgflow.runs WHERE flow_slug = $1 GROUP BY status ORDER BY status`, [flow]);
    expect(byStatus).toEqual([
      { status: 'completed', n: 1 },
      { status: 'failed', n: 1 },
    ]);
    const failedSteps = await db.query(
      `SELECT flow_slug, step_slug, count(*)::int AS failures FROM pgflow.step_states
       WHERE status = 'failed' AND failed_at > now() - interval '1 hour' AND flow_slug = $1
       GROUP BY flow_slug, step_slug ORDER BY failures DESC`,
      [flow],
    );
    expect(failedSteps).toEqual([{ flow_slug: flow, step_slug: 'a', failures: 1 }]);
    const stuck = await db.query(
      `SELECT run_id, step_slug, started_at, last_worker_id, now() - started_at AS running_time
       FROM pgflow.step_tasks WHERE status = 'started' AND started_at < now() - interval '10 minutes' ORDER BY started_at`,
    );
    expect(stuck).toEqual([]);
    const visibility = await db.query(`SELECT msg_id, vt, read_ct FROM pgmq.q_${flow} ORDER BY msg_id`);
    expect(visibility).toEqual([]);
  });
});
