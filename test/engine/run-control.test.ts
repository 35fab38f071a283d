/**
 * Operating runs: cancel_run, retry_run, pause_flow / resume_flow and
 * idempotent starts, with the races that matter (cancel vs complete, retry vs
 * retry, two starts with one key), through plain SQL.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { listen } from '../support/events.js';
import { pidOf, waitingForLock } from '../support/locks.js';
import {
  archiveRows,
  completeTask,
  defineFlow,
  drain,
  errorOf,
  failTask,
  getRun,
  getTask,
  newWorkerId,
  onClient,
  queueRows,
  queueTable,
  readMessages,
  startFlow,
  startTasks,
  stepStates,
  uniqueSlug,
  type RunRow,
} from './support.js';

const db = useTestDatabase();

const tasksOf = (runId: string) =>
  db.query<{ step_slug: string; task_index: number; status: string; attempts_count: number; cancelled_at: Date | null }>(
    `select step_slug, task_index, status, attempts_count, cancelled_at from pgflow.step_tasks where run_id = $1 order by step_slug, task_index`,
    [runId],
  );

/** The notices a statement raised, and its rows. */
async function withNotices<R>(client: pg.Client, text: string, values: unknown[]): Promise<{ rows: R[]; notices: string[] }> {
  const notices: string[] = [];
  const onNotice = (notice: { message?: string }) => notices.push(notice.message ?? '');
  client.on('notice', onNotice);
  try {
    const result = await client.query(text, values);
    return { rows: result.rows as R[], notices };
  } finally {
    client.off('notice', onNotice);
  }
}

describe('cancel_run', () => {
  it('stops the run: its tasks and unfinished steps are cancelled, its messages leave the queue, a worker’s result is ignored', async () => {
    const flow = await defineFlow(db, uniqueSlug('cancel'), { steps: ['a', 'b', { slug: 'c', deps: ['a', 'b'] }] });
    const listener = await listen(await db.connect(), [flow]);
    const run = await startFlow(db, flow, { n: 1 });
    const [held] = await startTasks(db, flow, [(await readMessages(db, flow, 30, 1))[0]!.msg_id], newWorkerId());
    const [cancelled] = await db.query<RunRow & { cancelled_at: Date; cancel_reason: string }>(`select * from pgflow.cancel_run($1, $2)`, [run.run_id, 'wrong input']);
    expect(cancelled).toMatchObject({ status: 'cancelled', cancel_reason: 'wrong input', completed_at: null, failed_at: null });
    expect(cancelled!.cancelled_at).toBeInstanceOf(Date);
    expect((await tasksOf(run.run_id)).map((task) => [task.step_slug, task.status])).toEqual([
      ['a', 'cancelled'],
      ['b', 'cancelled'],
    ]);
    const states = await stepStates(db, run.run_id);
    expect(Object.values(states).map((state) => state.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(await queueRows(db, flow)).toEqual([]);
    expect((await archiveRows(db, flow)).length).toBe(2);
    // The worker that held task a finishes it: nothing changes, no row comes back.
    expect(await completeTask(db, run.run_id, held!.step_slug, { late: true })).toEqual([]);
    expect(await failTask(db, run.run_id, held!.step_slug, 'late failure')).toEqual([]);
    expect(await drain(db, flow)).toEqual([]);
    const [event] = await listener.waitFor(flow, (e) => e.event === 'run:cancelled', 1);
    expect(event!.event.payload).toMatchObject({ run_id: run.run_id, status: 'cancelled', reason: 'wrong input' });
    await listener.stop();
  });

  it('changes nothing in a finished run and says so; an unknown run is an error', async () => {
    const flow = await defineFlow(db, uniqueSlug('cancel_done'), { steps: ['only'] });
    const run = await startFlow(db, flow, {});
    await drain(db, flow);
    const client = await db.connect();
    const { rows, notices } = await withNotices(client, `select * from pgflow.cancel_run($1)`, [run.run_id]);
    expect(rows).toEqual([]);
    expect(notices).toEqual([`run ${run.run_id} is already completed; nothing to cancel`]);
    expect((await getRun(db, run.run_id)).status).toBe('completed');
    const missing = await errorOf(() => db.query(`select * from pgflow.cancel_run('00000000-0000-4000-8000-000000000099')`));
    expect(missing).toMatchObject({ code: '42704', message: 'run 00000000-0000-4000-8000-000000000099 does not exist' });
  });

  it('races a completion on the run’s lock: whichever commits first wins, and the other sees its result', async () => {
    const flow = await defineFlow(db, uniqueSlug('cancel_race'), { steps: ['a', { slug: 'b', deps: ['a'] }] });
    const [first, second] = [await db.connect(), await db.connect()];

    // The completion holds the run first: it is kept, and the cancel stops what it queued.
    const run1 = await startFlow(db, flow, {});
    await startTasks(db, flow, [(await readMessages(db, flow))[0]!.msg_id], newWorkerId());
    await first.query('begin');
    await first.query(`select pgflow.complete_task($1, 'a', 0, '1')`, [run1.run_id]);
    const cancelling = second.query(`select * from pgflow.cancel_run($1)`, [run1.run_id]);
    await first.query('commit');
    expect((await cancelling).rows).toHaveLength(1);
    expect((await tasksOf(run1.run_id)).map((task) => [task.step_slug, task.status])).toEqual([
      ['a', 'completed'],
      ['b', 'cancelled'],
    ]);

    // The cancel holds the run first: the completion changes nothing.
    const run2 = await startFlow(db, flow, {});
    await startTasks(db, flow, [(await readMessages(db, flow))[0]!.msg_id], newWorkerId());
    await first.query('begin');
    await first.query(`select * from pgflow.cancel_run($1)`, [run2.run_id]);
    const completing = second.query(`select * from pgflow.complete_task($1, 'a', 0, '1')`, [run2.run_id]);
    await first.query('commit');
    expect((await completing).rows).toEqual([]);
    expect((await tasksOf(run2.run_id)).map((task) => task.status)).toEqual(['cancelled']);
  });
});

describe('retry_run', () => {
  it('runs a failed run again from the failed step: completed steps keep their outputs, the rest gets fresh attempts', async () => {
    const flow = await defineFlow(db, uniqueSlug('retry'), { steps: [{ slug: 'a' }, { slug: 'b', deps: ['a'], maxAttempts: 1 }, { slug: 'c', deps: ['b'] }] });
    const listener = await listen(await db.connect(), [flow]);
    const run = await startFlow(db, flow, { n: 2 });
    let outage = true;
    await drain(db, flow, (task) => {
      if (task.step_slug === 'b' && outage) throw new Error('database outage');
      return { [task.step_slug]: true };
    });
    expect((await getRun(db, run.run_id)).status).toBe('failed');

    outage = false;
    const [retried] = await db.query<RunRow>(`select * from pgflow.retry_run($1)`, [run.run_id]);
    expect(retried).toMatchObject({ status: 'started', failed_at: null, remaining_steps: 2 });
    const states = await stepStates(db, run.run_id);
    expect([states.a!.status, states.b!.status, states.c!.status]).toEqual(['completed', 'started', 'created']);
    expect(states.b).toMatchObject({ failed_at: null, error_message: null, remaining_tasks: 1 });
    expect((await tasksOf(run.run_id)).map((task) => [task.step_slug, task.status, task.attempts_count])).toEqual([
      ['a', 'completed', 1],
      ['b', 'queued', 0],
    ]);
    const handled = await drain(db, flow, (task) => ({ [task.step_slug]: task.input }));
    expect(handled.map((task) => task.step_slug)).toEqual(['b', 'c']);
    expect(handled[0]!.input).toEqual({ run: { n: 2 }, a: { a: true } });
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { c: { c: { run: { n: 2 }, b: { b: { run: { n: 2 }, a: { a: true } } } } } } });
    const retriedEvents = await listener.waitFor(flow, (event) => event.event === 'run:retried', 1);
    expect(retriedEvents[0]!.event.payload).toMatchObject({ run_id: run.run_id, status: 'started', retried_steps: 2 });
    await listener.stop();
  });

  it('resumes a cancelled run; a map step runs all its elements again', async () => {
    const flow = await defineFlow(db, uniqueSlug('retry_cancelled'), { steps: [{ slug: 'list' }, { slug: 'each', deps: ['list'], stepType: 'map' }] });
    const run = await startFlow(db, flow, {});
    await startTasks(db, flow, [(await readMessages(db, flow))[0]!.msg_id], newWorkerId());
    await completeTask(db, run.run_id, 'list', [1, 2, 3]);
    // The three elements' tasks are queued; one starts, then the run is cancelled.
    await startTasks(db, flow, [(await readMessages(db, flow, 30, 1))[0]!.msg_id], newWorkerId());
    await db.query(`select pgflow.cancel_run($1)`, [run.run_id]);
    const [retried] = await db.query<RunRow>(`select * from pgflow.retry_run($1)`, [run.run_id]);
    expect(retried).toMatchObject({ status: 'started', remaining_steps: 1 });
    expect(await db.query(`select cancelled_at, cancel_reason from pgflow.runs where run_id = $1`, [run.run_id])).toEqual([{ cancelled_at: null, cancel_reason: null }]);
    const handled = await drain(db, flow, (task) => (task.input as number) * 10);
    expect(handled.map((task) => [task.task_index, task.attempts_count])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { each: [10, 20, 30] } });
  });

  it('changes nothing in a started or completed run and says so; of two concurrent retries exactly one retries', async () => {
    const flow = await defineFlow(db, uniqueSlug('retry_twice'), { steps: [{ slug: 'only', maxAttempts: 1 }] });
    const running = await startFlow(db, flow, {});
    const client = await db.connect();
    const { rows, notices } = await withNotices(client, `select * from pgflow.retry_run($1)`, [running.run_id]);
    expect(rows).toEqual([]);
    expect(notices).toEqual([`run ${running.run_id} is started; only a failed or cancelled run can be retried`]);

    await drain(db, flow, () => {
      throw new Error('boom');
    });
    expect((await getRun(db, running.run_id)).status).toBe('failed');
    const [first, second] = [await db.connect(), await db.connect()];
    await first.query('begin');
    const retried = await first.query(`select * from pgflow.retry_run($1)`, [running.run_id]);
    const racing = second.query(`select * from pgflow.retry_run($1)`, [running.run_id]);
    await first.query('commit');
    expect(retried.rows).toHaveLength(1);
    expect((await racing).rows).toEqual([]);
    expect((await tasksOf(running.run_id)).map((task) => [task.status, task.attempts_count])).toEqual([['queued', 0]]);
    expect((await queueRows(db, flow)).length).toBe(1);
  });
});

describe('pause_flow and resume_flow', () => {
  it('while paused nothing of the flow starts (its messages stay visible), running tasks finish, and runs are still accepted', async () => {
    const flow = await defineFlow(db, uniqueSlug('pause'), { steps: ['a', { slug: 'b', deps: ['a'] }] });
    const running = await startFlow(db, flow, {});
    const [held] = await startTasks(db, flow, [(await readMessages(db, flow))[0]!.msg_id], newWorkerId());
    const [paused] = await db.query<{ paused_at: Date | null }>(`select * from pgflow.pause_flow($1)`, [flow]);
    expect(paused!.paused_at).toBeInstanceOf(Date);
    const queued = await startFlow(db, flow, { queued: true });
    expect(queued.status).toBe('started');
    // The running task completes normally and queues its dependent, which does not start.
    expect(await completeTask(db, running.run_id, held!.step_slug, 1)).toHaveLength(1);
    expect(await drain(db, flow)).toEqual([]);
    const visible = (await queueRows(db, flow)).filter((row) => row.visible_in <= 0);
    expect(visible.map((row) => row.message.step_slug).sort()).toEqual(['a', 'b']);
    // start_tasks on messages read before the pause starts nothing either.
    expect(await startTasks(db, flow, visible.map((row) => row.msg_id), newWorkerId())).toEqual([]);
    // Pausing again changes nothing.
    const [again] = await db.query<{ paused_at: Date }>(`select * from pgflow.pause_flow($1)`, [flow]);
    expect(again!.paused_at).toEqual(paused!.paused_at);

    const [resumed] = await db.query<{ paused_at: Date | null }>(`select * from pgflow.resume_flow($1)`, [flow]);
    expect(resumed!.paused_at).toBeNull();
    await drain(db, flow);
    expect((await getRun(db, running.run_id)).status).toBe('completed');
    expect((await getRun(db, queued.run_id)).status).toBe('completed');
    expect(await errorOf(() => db.query(`select pgflow.pause_flow('no_such_flow')`))).toMatchObject({ code: '42704', message: 'flow "no_such_flow" does not exist' });
  });

  it('a claim already past its pause check when the pause commits starts nothing and gives its messages back at once', async () => {
    const flow = await defineFlow(db, uniqueSlug('pause_race'), { timeout: 60, steps: ['only'] });
    const run = await startFlow(db, flow, {});
    // Hold the queue table so that a claim stops right before it reads, after it found the flow running.
    const holder = await db.connect();
    const claimer = await db.connect();
    const claimerPid = await pidOf(claimer);
    await holder.query('begin');
    await holder.query(`lock table pgmq.${queueTable(flow, 'q')} in access exclusive mode`);
    const claiming = claimer.query(`select * from pgflow.claim_tasks($1::text, $2::uuid, 10)`, [flow, newWorkerId()]);
    await waitingForLock(db, claimerPid);
    await db.query(`select pgflow.pause_flow($1)`, [flow]);
    await holder.query('commit');
    expect((await claiming).rows).toEqual([]);
    // The message it read is visible again (not hidden for the step's 60 s timeout), and runs on resume.
    const [message] = await queueRows(db, flow);
    expect(message).toMatchObject({ read_ct: 1 });
    expect(message!.visible_in).toBeLessThanOrEqual(0);
    expect((await getTask(db, run.run_id, 'only')).status).toBe('queued');
    await db.query(`select pgflow.resume_flow($1)`, [flow]);
    expect((await drain(db, flow)).map((task) => task.run_id)).toEqual([run.run_id]);
  });
});

describe('idempotent start_flow', () => {
  it('a second start with the same key returns the first run and creates nothing; keys are per flow', async () => {
    const flow = await defineFlow(db, uniqueSlug('idempotent'), { steps: ['only'] });
    const other = await defineFlow(db, uniqueSlug('idempotent_other'), { steps: ['only'] });
    const start = (slug: string, input: unknown, key: string) =>
      db.query<RunRow & { idempotency_key: string }>(`select * from pgflow.start_flow($1, $2::jsonb, idempotency_key => $3)`, [slug, JSON.stringify(input), key]);
    const [first] = await start(flow, { order: 1 }, 'order-1');
    const [second] = await start(flow, { order: 'changed' }, 'order-1');
    expect(second).toEqual(first);
    expect(first).toMatchObject({ idempotency_key: 'order-1', input: { order: 1 } });
    const [elsewhere] = await start(other, { order: 1 }, 'order-1');
    expect(elsewhere!.run_id).not.toBe(first!.run_id);
    expect(await db.query(`select count(*)::int as n from pgflow.runs where flow_slug = $1`, [flow])).toEqual([{ n: 1 }]);
    expect((await queueRows(db, flow)).length).toBe(1);
    // Once the run has finished, the key still returns it.
    await drain(db, flow);
    const [later] = await start(flow, {}, 'order-1');
    expect(later).toMatchObject({ run_id: first!.run_id, status: 'completed' });
    const both = await errorOf(() => db.query(`select * from pgflow.start_flow($1, '{}', '00000000-0000-4000-8000-000000000001', 'k')`, [flow]));
    expect(both).toMatchObject({ code: '22023', message: 'start_flow takes a run_id or an idempotency_key, not both' });
  });

  it('two starts with one key that race create one run, and both return it', async () => {
    const flow = await defineFlow(db, uniqueSlug('idempotent_race'), { steps: ['only'] });
    const [first, second] = [await db.connect(), await db.connect()];
    await first.query('begin');
    const mine = await first.query(`select * from pgflow.start_flow($1, '{"who": "first"}', idempotency_key => 'k')`, [flow]);
    const theirs = second.query(`select * from pgflow.start_flow($1, '{"who": "second"}', idempotency_key => 'k')`, [flow]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await first.query('commit');
    const raced = await theirs;
    expect(raced.rows[0].run_id).toBe(mine.rows[0].run_id);
    expect(raced.rows[0].input).toEqual({ who: 'first' });
    expect(await onClient(second).query(`select count(*)::int as n from pgflow.runs where flow_slug = $1`, [flow])).toEqual([{ n: 1 }]);
  });
});
