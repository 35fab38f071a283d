/**
 * Retention: prune_batch and the prune procedure delete finished runs older
 * than an interval with everything that belongs to them, in batches, and
 * never touch work in progress.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { archiveRows, completeTask, defineFlow, drain, errorOf, newWorkerId, readMessages, startFlow, startTasks, uniqueSlug } from './support.js';

const db = useTestDatabase();

/** Moves a run's end into the past, as if it had finished `days` ago. */
const age = (runId: string, days: number) =>
  db.query(
    `update pgflow.runs set started_at = started_at - make_interval(days => $2), completed_at = completed_at - make_interval(days => $2),
       failed_at = failed_at - make_interval(days => $2), cancelled_at = cancelled_at - make_interval(days => $2) where run_id = $1`,
    [runId, days],
  );

const left = async (runIds: string[]) =>
  (
    await db.query<{ runs: number; states: number; tasks: number }>(
      `select (select count(*)::int from pgflow.runs where run_id = any($1)) as runs,
              (select count(*)::int from pgflow.step_states where run_id = any($1)) as states,
              (select count(*)::int from pgflow.step_tasks where run_id = any($1)) as tasks`,
      [runIds],
    )
  )[0];

describe('prune_batch', () => {
  it('deletes finished runs (completed, failed) older than the interval with their states, tasks and archived messages; nothing else', async () => {
    const flow = await defineFlow(db, uniqueSlug('prune'), { steps: ['a', { slug: 'b', deps: ['a'], maxAttempts: 1 }] });
    const old = [await startFlow(db, flow, { i: 1 }), await startFlow(db, flow, { i: 2 }), await startFlow(db, flow, { i: 3 })];
    await drain(db, flow, (task) => {
      if (task.step_slug === 'b' && (task.input.run as { i: number }).i === 3) throw new Error('fails');
      return 1;
    });
    const recent = await startFlow(db, flow, { i: 4 });
    await drain(db, flow);
    const running = await startFlow(db, flow, { i: 5 });
    for (const run of [...old, running]) await age(run.run_id, 40);
    const archivedBefore = (await archiveRows(db, flow)).length;

    const [batch] = await db.query(`select * from pgflow.prune_batch('30 days')`);
    expect(batch).toEqual({ pruned_runs: '3', pruned_step_states: '6', pruned_step_tasks: '6', pruned_messages: '6' });
    expect(await left(old.map((run) => run.run_id))).toEqual({ runs: 0, states: 0, tasks: 0 });
    expect(await left([recent.run_id])).toEqual({ runs: 1, states: 2, tasks: 2 });
    // A run still going is never pruned, however old.
    expect(await left([running.run_id])).toEqual({ runs: 1, states: 2, tasks: 1 });
    expect((await archiveRows(db, flow)).length).toBe(archivedBefore - 6);
    expect(await db.query(`select * from pgflow.prune_batch('30 days')`)).toEqual([{ pruned_runs: '0', pruned_step_states: '0', pruned_step_tasks: '0', pruned_messages: '0' }]);
  });

  it('takes at most batch_size runs, oldest first; a negative interval or a zero batch is an error', async () => {
    const flow = await defineFlow(db, uniqueSlug('prune_batches'), { steps: ['only'] });
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(await startFlow(db, flow, { i }));
    await drain(db, flow);
    for (const run of runs) await age(run.run_id, 10);
    expect((await db.query(`select pruned_runs from pgflow.prune_batch('1 day', 2)`))[0]).toEqual({ pruned_runs: '2' });
    expect(await left(runs.slice(0, 2).map((run) => run.run_id))).toMatchObject({ runs: 0 });
    expect(await left(runs.slice(2).map((run) => run.run_id))).toMatchObject({ runs: 3 });
    expect(await errorOf(() => db.query(`select * from pgflow.prune_batch('-1 day')`))).toMatchObject({ code: '22023', message: 'older_than must be an interval of 0 or more, got -1 days' });
    expect(await errorOf(() => db.query(`select * from pgflow.prune_batch('1 day', 0)`))).toMatchObject({ code: '22023', message: 'batch_size must be 1 or more, got 0' });
  });

  it('skips a finished run another transaction holds, instead of waiting for it', async () => {
    const flow = await defineFlow(db, uniqueSlug('prune_locked'), { steps: ['only'] });
    const [held, free] = [await startFlow(db, flow, {}), await startFlow(db, flow, {})];
    await drain(db, flow);
    await age(held.run_id, 5);
    await age(free.run_id, 5);
    const holder = await db.connect();
    await holder.query('begin');
    await holder.query(`select 1 from pgflow.runs where run_id = $1 for update`, [held.run_id]);
    // (Returns at once: a wait for the held row would block this test until the rollback below.)
    await db.query(`select * from pgflow.prune_batch('1 day')`);
    await holder.query('rollback');
    expect(await left([held.run_id])).toMatchObject({ runs: 1 });
    expect(await left([free.run_id])).toMatchObject({ runs: 0 });
  });
});

describe('the prune procedure', () => {
  it('prunes everything due in batches, committing after each, and returns the totals; a worker meanwhile is not disturbed', async () => {
    const flow = await defineFlow(db, uniqueSlug('prune_all'), { steps: ['a', { slug: 'b', deps: ['a'] }] });
    const finished = [];
    for (let i = 0; i < 7; i++) finished.push(await startFlow(db, flow, { i }));
    await drain(db, flow);
    // Older than anything the tests above left behind.
    for (const run of finished) await age(run.run_id, 100);
    // A worker is in the middle of another run.
    const busy = await startFlow(db, flow, {});
    const [task] = await startTasks(db, flow, [(await readMessages(db, flow))[0]!.msg_id], newWorkerId());

    const client = await db.connect();
    const notices: string[] = [];
    client.on('notice', (notice) => notices.push(notice.message ?? ''));
    const { rows } = await client.query(`call pgflow.prune('50 days', 3)`);
    expect(rows).toEqual([{ pruned_runs: '7', pruned_step_states: '14', pruned_step_tasks: '14', pruned_messages: '14' }]);
    expect(notices).toEqual(['pruned 3 runs (3 so far)', 'pruned 3 runs (6 so far)', 'pruned 1 runs (7 so far)']);
    expect(await left(finished.map((run) => run.run_id))).toMatchObject({ runs: 0 });

    expect(await completeTask(db, busy.run_id, task!.step_slug, 'fine')).toHaveLength(1);
    await drain(db, flow);
    expect((await db.query(`select status from pgflow.runs where run_id = $1`, [busy.run_id]))[0]).toEqual({ status: 'completed' });
  });
});
