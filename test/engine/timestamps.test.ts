/**
 * Timestamps written while another transaction changes the same rows: a
 * failure that read the clock before a concurrent start committed must not
 * stamp a time before that start. The test holds a lock to stop fail_run
 * between reading the clock and failing the run's other tasks, lets another
 * worker start one of them in that gap, and checks that the failure then
 * succeeds with a time no earlier than the task's start (the tables' CHECK
 * constraints would refuse anything else).
 */
import { describe, expect, it } from 'vitest';
import { defineFlow, newWorkerId, startFlow, takeTask, uniqueSlug, type StepTaskRow } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { pidOf, waitingForLock } from '../support/locks.js';

const db = useTestDatabase();

describe('timestamps under concurrent starts', () => {
  it('a run failing while another worker starts one of its tasks marks that task failed no earlier than its start', async () => {
    const flow = await defineFlow(db, uniqueSlug('fail_race'), { maxAttempts: 1, steps: ['x', 'y'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'x');
    const [y] = await db.query<StepTaskRow>(`select * from pgflow.step_tasks where run_id = $1 and step_slug = 'y'`, [run.run_id]);

    const holder = await db.connect();
    const failer = await db.connect();
    const starter = await db.connect();
    const failerPid = await pidOf(failer);
    // Hold the failing step's state, so fail_run stops after reading the clock and failing the run.
    await holder.query('begin');
    await holder.query(`select 1 from pgflow.step_states where run_id = $1 and step_slug = 'x' for update`, [run.run_id]);
    const failing = failer.query(`select status from pgflow.fail_task($1::uuid, 'x', 0, 'boom')`, [run.run_id]);
    await waitingForLock(db, failerPid);

    // Meanwhile another worker starts y (the run still reads `started` to it) and holds the row until it commits.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await starter.query('begin');
    const started = await starter.query(`select * from pgflow.start_tasks($1::text, $2::bigint[], $3::uuid)`, [flow, [y!.message_id], newWorkerId()]);
    expect(started.rows).toHaveLength(1);
    await holder.query('commit');
    await waitingForLock(db, failerPid);
    await starter.query('commit');

    expect((await failing).rows).toEqual([{ status: 'failed' }]);
    const tasks = await db.query<{ step_slug: string; status: string; in_order: boolean }>(
      `select step_slug, status, failed_at >= started_at as in_order from pgflow.step_tasks where run_id = $1 order by step_slug`,
      [run.run_id],
    );
    expect(tasks).toEqual([
      { step_slug: 'x', status: 'failed', in_order: true },
      { step_slug: 'y', status: 'failed', in_order: true },
    ]);
    expect(await db.query(`select status from pgflow.runs where run_id = $1`, [run.run_id])).toEqual([{ status: 'failed' }]);
  });
});
