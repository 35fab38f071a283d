/**
 * pgflow.complete_task: stores the output, archives the message, completes the
 * step, counts down its dependents (queueing each that becomes ready, after its
 * start_delay), fan-out and fan-in, run output = the leaf steps' outputs, any
 * JSON output (decision 13), and the no-op cases of decision 7.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import {
  archiveRows,
  completeTask,
  defineFlow,
  errorOf,
  failTask,
  getRun,
  getTask,
  queueRows,
  readMessages,
  startFlow,
  stepStates,
  takeTask,
  uniqueSlug,
  visibleIn,
} from './support.js';

const db = useTestDatabase();

describe('pgflow.complete_task', () => {
  it('stores the output, completes the task and its step, archives the message', async () => {
    const flow = await defineFlow(db, uniqueSlug('one'), { steps: ['a', 'b'] });
    const run = await startFlow(db, flow);
    const task = await takeTask(db, flow, run.run_id, 'a');
    const [row] = await completeTask(db, run.run_id, 'a', { record_count: 1500, checksum: 'abc123' });
    expect(row).toMatchObject({ status: 'completed', output: { record_count: 1500, checksum: 'abc123' }, attempts_count: 1, error_message: null });
    expect(row!.completed_at).toBeInstanceOf(Date);
    expect(row!.completed_at!.getTime()).toBeGreaterThanOrEqual(row!.started_at!.getTime());
    expect((await stepStates(db, run.run_id)).a).toMatchObject({ status: 'completed', remaining_tasks: 0 });
    expect((await stepStates(db, run.run_id)).a!.completed_at).toBeInstanceOf(Date);
    // The message moved from the queue to the archive.
    expect((await queueRows(db, flow)).map((m) => m.msg_id)).not.toContain(task.msg_id);
    const archived = await archiveRows(db, flow);
    expect(archived.map((m) => m.msg_id)).toEqual([task.msg_id]);
    expect(archived[0]!.message).toEqual({ flow_slug: flow, run_id: run.run_id, step_slug: 'a', task_index: 0 });
    // The run counts the step off.
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'started', remaining_steps: 1 });
  });

  it('named arguments as in the reference', async () => {
    const flow = await defineFlow(db, uniqueSlug('named'), { steps: ['fetch_data'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'fetch_data');
    const rows = await db.query(
      `SELECT * FROM pgflow.complete_task(run_id := $1::uuid, step_slug := 'fetch_data', task_index := 0, output := '{"record_count": 1500, "checksum": "abc123"}'::jsonb)`,
      [run.run_id],
    );
    expect(rows).toHaveLength(1);
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { fetch_data: { record_count: 1500, checksum: 'abc123' } } });
  });

  it('linear: each completion queues the next step; the run completes with remaining_steps 0 and the last output', async () => {
    const flow = await defineFlow(db, uniqueSlug('linear'), { steps: [{ slug: 'step1' }, { slug: 'step2', deps: ['step1'] }, { slug: 'step3', deps: ['step2'] }] });
    const run = await startFlow(db, flow, { go: true });
    for (const [slug, next] of [
      ['step1', 'step2'],
      ['step2', 'step3'],
    ] as const) {
      await takeTask(db, flow, run.run_id, slug);
      await completeTask(db, run.run_id, slug, { slug });
      const states = await stepStates(db, run.run_id);
      expect(states[next]).toMatchObject({ status: 'started', remaining_deps: 0, remaining_tasks: 1 });
      const messages = await readMessages(db, flow, 0, 10);
      expect(messages.map((m) => m.message)).toEqual([{ flow_slug: flow, run_id: run.run_id, step_slug: next, task_index: 0 }]);
    }
    await takeTask(db, flow, run.run_id, 'step3');
    await completeTask(db, run.run_id, 'step3', { slug: 'step3' });
    const finished = await getRun(db, run.run_id);
    expect(finished).toMatchObject({ status: 'completed', remaining_steps: 0, output: { step3: { slug: 'step3' } }, failed_at: null });
    expect(finished.completed_at).toBeInstanceOf(Date);
    expect(await queueRows(db, flow)).toEqual([]);
    expect(await archiveRows(db, flow)).toHaveLength(3);
  });

  it('fan-out queues every ready dependent; fan-in waits for all dependencies (remaining_deps counts down)', async () => {
    const flow = await defineFlow(db, uniqueSlug('fan'), {
      steps: [
        { slug: 'split' },
        { slug: 'process_a', deps: ['split'] },
        { slug: 'process_b', deps: ['split'] },
        { slug: 'process_c', deps: ['split'] },
        { slug: 'merge', deps: ['process_a', 'process_b', 'process_c'] },
      ],
    });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'split');
    await completeTask(db, run.run_id, 'split', [1, 2, 3]);
    let states = await stepStates(db, run.run_id);
    for (const slug of ['process_a', 'process_b', 'process_c']) expect(states[slug], slug).toMatchObject({ status: 'started', remaining_deps: 0 });
    expect(states.merge).toMatchObject({ status: 'created', remaining_deps: 3, remaining_tasks: null });
    expect((await readMessages(db, flow, 0, 10)).map((m) => m.message.step_slug).sort()).toEqual(['process_a', 'process_b', 'process_c']);

    for (const slug of ['process_a', 'process_b', 'process_c']) await takeTask(db, flow, run.run_id, slug);
    await completeTask(db, run.run_id, 'process_b', 'b');
    expect((await stepStates(db, run.run_id)).merge).toMatchObject({ status: 'created', remaining_deps: 2 });
    await completeTask(db, run.run_id, 'process_a', 'a');
    states = await stepStates(db, run.run_id);
    expect(states.merge).toMatchObject({ status: 'created', remaining_deps: 1 });
    expect((await queueRows(db, flow)).filter((m) => m.message.step_slug === 'merge')).toEqual([]);
    expect(await getRun(db, run.run_id)).toMatchObject({ remaining_steps: 2 });
    await completeTask(db, run.run_id, 'process_c', 'c');
    expect((await stepStates(db, run.run_id)).merge).toMatchObject({ status: 'started', remaining_deps: 0, remaining_tasks: 1 });
    const merge = await takeTask(db, flow, run.run_id, 'merge');
    expect(merge.input).toEqual({ run: {}, process_a: 'a', process_b: 'b', process_c: 'c' });
    await completeTask(db, run.run_id, 'merge', { merged: true });
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', remaining_steps: 0, output: { merge: { merged: true } } });
  });

  it('a dependent that becomes ready is queued after its start_delay', async () => {
    const flow = await defineFlow(db, uniqueSlug('delayed_dep'), { steps: [{ slug: 'a' }, { slug: 'b', deps: ['a'], startDelay: 30 }, { slug: 'c', deps: ['a'] }] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    await completeTask(db, run.run_id, 'a', {});
    const b = await getTask(db, run.run_id, 'b');
    expect(b.status).toBe('queued');
    const seconds = await visibleIn(db, flow, b.message_id!);
    expect(seconds).toBeGreaterThan(28);
    expect(seconds).toBeLessThanOrEqual(30.05);
    const c = await getTask(db, run.run_id, 'c');
    expect(await visibleIn(db, flow, c.message_id!)).toBeLessThanOrEqual(0);
    expect((await readMessages(db, flow, 30, 10)).map((m) => m.message.step_slug)).toEqual(['c']);
  });

  it('run.output holds exactly the leaf steps’ outputs (including a root that is also a leaf)', async () => {
    const flow = await defineFlow(db, uniqueSlug('leaves'), {
      steps: [{ slug: 'lonely' }, { slug: 'root' }, { slug: 'left', deps: ['root'] }, { slug: 'right', deps: ['root'] }, { slug: 'mid', deps: ['root'] }, { slug: 'end', deps: ['mid'] }],
    });
    const run = await startFlow(db, flow);
    const outputs: Record<string, unknown> = { lonely: 'alone', root: { r: 1 }, left: ['l'], right: 7, mid: { m: true }, end: { e: 'x' } };
    for (const slug of ['lonely', 'root', 'left', 'right', 'mid', 'end']) {
      await takeTask(db, flow, run.run_id, slug);
      await completeTask(db, run.run_id, slug, outputs[slug]);
    }
    const finished = await getRun(db, run.run_id);
    expect(finished.status).toBe('completed');
    expect(finished.output).toEqual({ lonely: 'alone', left: ['l'], right: 7, end: { e: 'x' } });
  });

  it('accepts any JSON output, JSON null and SQL NULL; dependents and run.output see null (decision 13)', async () => {
    const values: [string, string | null, unknown][] = [
      ['json_null', 'null', null],
      ['sql_null', null, null],
      ['array', '[1, "two", {"three": 3}]', [1, 'two', { three: 3 }]],
      ['string', '"just text"', 'just text'],
      ['number', '42.5', 42.5],
      ['zero', '0', 0],
      ['false_value', 'false', false],
      ['empty_object', '{}', {}],
      ['empty_string', '""', ''],
    ];
    const flow = await defineFlow(db, uniqueSlug('outputs'), {
      steps: [...values.map(([slug]) => ({ slug })), { slug: 'collect', deps: values.map(([slug]) => slug) }],
    });
    const run = await startFlow(db, flow);
    for (const [slug, literal] of values) {
      await takeTask(db, flow, run.run_id, slug);
      const rows = await db.query(`select * from pgflow.complete_task($1, $2, 0, $3::jsonb)`, [run.run_id, slug, literal]);
      expect(rows, slug).toHaveLength(1);
    }
    const stored = await db.query<{ step_slug: string; output: unknown; is_sql_null: boolean; status: string }>(
      `select step_slug, output, output is null as is_sql_null, status from pgflow.step_tasks where run_id = $1 and step_slug <> 'collect'`,
      [run.run_id],
    );
    for (const [slug, , value] of values) {
      const row = stored.find((r) => r.step_slug === slug)!;
      expect(row.status, slug).toBe('completed');
      expect(row.output, slug).toEqual(value);
    }
    expect(stored.find((r) => r.step_slug === 'sql_null')!.is_sql_null).toBe(true);
    const collect = await takeTask(db, flow, run.run_id, 'collect');
    expect(collect.input).toEqual({ run: {}, ...Object.fromEntries(values.map(([slug, , value]) => [slug, value])) });
    expect(Object.keys(collect.input)).toContain('sql_null');

    // A leaf with an SQL NULL output appears as null in the run output.
    await db.query(`select * from pgflow.complete_task($1, 'collect', 0, null)`, [run.run_id]);
    const finished = await getRun(db, run.run_id);
    expect(finished.status).toBe('completed');
    expect(finished.output).toEqual({ collect: null });
  });

  it('a large output (100 kB) is stored and passed on', async () => {
    const flow = await defineFlow(db, uniqueSlug('large'), { steps: [{ slug: 'big' }, { slug: 'after', deps: ['big'] }] });
    const run = await startFlow(db, flow);
    const big = { blob: 'x'.repeat(100_000), list: Array.from({ length: 100 }, (_, i) => i) };
    await takeTask(db, flow, run.run_id, 'big');
    expect(await completeTask(db, run.run_id, 'big', big)).toHaveLength(1);
    const after = await takeTask(db, flow, run.run_id, 'after');
    expect(after.input.big).toEqual(big);
    await completeTask(db, run.run_id, 'after', big);
    expect((await getRun(db, run.run_id)).output).toEqual({ after: big });
  });
});

describe('complete_task changes nothing and returns no row (decision 7)', () => {
  it('for a task that is queued (never started)', async () => {
    const flow = await defineFlow(db, uniqueSlug('queued'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    const before = await getTask(db, run.run_id, 'a');
    expect(await completeTask(db, run.run_id, 'a', { sneaky: true })).toEqual([]);
    expect(await getTask(db, run.run_id, 'a')).toEqual(before);
    expect((await stepStates(db, run.run_id)).a).toMatchObject({ status: 'started', remaining_tasks: 1 });
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'started', remaining_steps: 1 });
    expect((await queueRows(db, flow)).map((m) => m.msg_id)).toEqual([before.message_id]);
    expect(await archiveRows(db, flow)).toEqual([]);
  });

  it('for a task already completed (the first output stays)', async () => {
    const flow = await defineFlow(db, uniqueSlug('twice'), { steps: ['a', { slug: 'b', deps: ['a'] }] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    await completeTask(db, run.run_id, 'a', { first: true });
    const task = await getTask(db, run.run_id, 'a');
    const states = await stepStates(db, run.run_id);
    const runRow = await getRun(db, run.run_id);
    expect(await completeTask(db, run.run_id, 'a', { second: true })).toEqual([]);
    expect(await getTask(db, run.run_id, 'a')).toEqual(task);
    expect(await stepStates(db, run.run_id)).toEqual(states);
    expect(await getRun(db, run.run_id)).toEqual(runRow);
    // b was queued once, not twice.
    expect((await queueRows(db, flow)).filter((m) => m.message.step_slug === 'b')).toHaveLength(1);
  });

  it('for a task of a completed run', async () => {
    const flow = await defineFlow(db, uniqueSlug('done'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    await completeTask(db, run.run_id, 'a', 1);
    const finished = await getRun(db, run.run_id);
    expect(await completeTask(db, run.run_id, 'a', 2)).toEqual([]);
    expect(await getRun(db, run.run_id)).toEqual(finished);
  });

  it('for a started task of a failed run', async () => {
    const flow = await defineFlow(db, uniqueSlug('failed_run'), { maxAttempts: 1, steps: ['a', 'b'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    await takeTask(db, flow, run.run_id, 'b');
    await failTask(db, run.run_id, 'a', 'fatal');
    const bBefore = await getTask(db, run.run_id, 'b');
    const runBefore = await getRun(db, run.run_id);
    expect(runBefore.status).toBe('failed');
    expect(await completeTask(db, run.run_id, 'b', { late: true })).toEqual([]);
    expect(await getTask(db, run.run_id, 'b')).toEqual(bBefore);
    expect(bBefore.output).toBeNull();
    expect(await getRun(db, run.run_id)).toEqual(runBefore);
  });
});

describe('complete_task on a task that does not exist', () => {
  it('is a clear error naming what is missing', async () => {
    const flow = await defineFlow(db, uniqueSlug('missing'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    const unknownRun = await errorOf(() => completeTask(db, '00000000-0000-4000-8000-000000000000', 'a', {}));
    expect(unknownRun.code).toBe('42704');
    expect(unknownRun.message).toContain('00000000-0000-4000-8000-000000000000');
    const unknownStep = await errorOf(() => completeTask(db, run.run_id, 'nope', {}));
    expect(unknownStep.code).toBe('42704');
    expect(unknownStep.message).toContain('nope');
    const unknownIndex = await errorOf(() => completeTask(db, run.run_id, 'a', {}, 1));
    expect(unknownIndex.code).toBe('42704');
    // The real task is untouched.
    expect(await getTask(db, run.run_id, 'a')).toMatchObject({ status: 'started' });
  });
});
