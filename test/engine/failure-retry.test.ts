/**
 * pgflow.fail_task: retries with the decision-1 delay (visible in the
 * message's vt), error messages, exhaustion failing task, step and run,
 * decision 8 (the run's other work is failed and its messages archived),
 * per-step overrides, decision 7's no-op cases, calculate_retry_delay.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import {
  archiveRows,
  completeTask,
  defineFlow,
  diamondSteps,
  errorOf,
  failTask,
  getRun,
  getTask,
  newWorkerId,
  queueRows,
  queueTable,
  readMessages,
  startFlow,
  startTasks,
  stepStates,
  takeTask,
  uniqueSlug,
  visibleIn,
  type StepTaskRow,
} from './support.js';

const db = useTestDatabase();

/** Makes a retried task's message visible now, so the next attempt can start without waiting for the backoff. */
async function skipBackoff(flow: string, msgId: string | null) {
  await db.query(`select pgmq.set_vt($1, $2::bigint, 0)`, [flow, msgId]);
}

/** The delay the retry put on the message, in seconds (measured against the time fail_task ran). */
async function retryDelay(flow: string, task: StepTaskRow): Promise<number> {
  const seconds = await visibleIn(db, flow, task.message_id!);
  if (seconds === null) throw new Error('the message is gone');
  return seconds;
}

describe('pgflow.calculate_retry_delay', () => {
  it('is floor(base_delay * 2^attempts_count)', async () => {
    const cases: [number, number, number][] = [
      [5, 0, 5],
      [5, 1, 10],
      [5, 2, 20],
      [5, 3, 40],
      [2, 0, 2],
      [2, 3, 16],
      [1.5, 3, 12],
      [1.5, 0, 1],
      [0, 4, 0],
      [1, 10, 1024],
    ];
    const rows = await db.query<{ delay: number }>(
      `select pgflow.calculate_retry_delay(c.base, c.n) as delay from unnest($1::numeric[], $2::int[]) with ordinality as c(base, n, ord) order by c.ord`,
      [cases.map((c) => c[0]), cases.map((c) => c[1])],
    );
    expect(rows.map((r) => r.delay)).toEqual(cases.map((c) => c[2]));
  });

  it('is capped at 2147483647 s instead of overflowing, and never negative', async () => {
    const INT_MAX = 2147483647;
    const cases: [number, number, number][] = [
      [1, 30, 1073741824],
      [1, 31, INT_MAX], // 2^31 is one more than the largest integer
      [INT_MAX, 0, INT_MAX],
      [INT_MAX, 1, INT_MAX],
      [INT_MAX, INT_MAX, INT_MAX],
      [5, 100_000, INT_MAX],
      [0, INT_MAX, 0],
      [-1, 100, 0],
    ];
    const rows = await db.query<{ delay: number }>(
      `select pgflow.calculate_retry_delay(c.base, c.n) as delay from unnest($1::numeric[], $2::int[]) with ordinality as c(base, n, ord) order by c.ord`,
      [cases.map((c) => c[0]), cases.map((c) => c[1])],
    );
    expect(rows.map((r) => r.delay)).toEqual(cases.map((c) => c[2]));
  });
});

describe('a retry delay at the cap', () => {
  it('fail_task with base_delay at its maximum, at the first and at a very late attempt, hides the message about 68 years and fails on nothing', async () => {
    const INT_MAX = 2147483647;
    const flow = await defineFlow(db, uniqueSlug('huge_delay'), { maxAttempts: INT_MAX, baseDelay: INT_MAX, steps: ['a'] });
    const run = await startFlow(db, flow);
    const worker = newWorkerId();
    const task = await takeTask(db, flow, run.run_id, 'a', worker);
    const [first] = await failTask(db, run.run_id, 'a', 'first');
    expect(first).toMatchObject({ status: 'queued', attempts_count: 1 });
    const firstDelay = await retryDelay(flow, first!);
    expect(firstDelay).toBeGreaterThan(INT_MAX - 60);
    expect(firstDelay).toBeLessThanOrEqual(INT_MAX);

    // Far into a long retry chain: 2^1999999999 times the base is far past the cap.
    await skipBackoff(flow, task.msg_id);
    await startTasks(db, flow, [task.msg_id], worker);
    await db.query(`update pgflow.step_tasks set attempts_count = 2000000000 where run_id = $1`, [run.run_id]);
    const [late] = await failTask(db, run.run_id, 'a', 'late');
    expect(late).toMatchObject({ status: 'queued', attempts_count: 2000000000, error_message: 'late' });
    const lateDelay = await retryDelay(flow, late!);
    expect(lateDelay).toBeGreaterThan(INT_MAX - 60);
    expect(lateDelay).toBeLessThanOrEqual(INT_MAX);
    const [{ year }] = (await db.query<{ year: number }>(`select extract(year from vt)::int as year from pgmq.${queueTable(flow, 'q')}`)) as [{ year: number }];
    const [{ now }] = (await db.query<{ now: number }>(`select extract(year from now())::int as now`)) as [{ now: number }];
    expect(year - now).toBeGreaterThanOrEqual(67);
    expect(year - now).toBeLessThanOrEqual(69);
    expect((await getRun(db, run.run_id)).status).toBe('started');
  });
});

describe('fail_task with attempts left', () => {
  it('returns the task to queued with its error, and delays the same message by base_delay, then doubling (decision 1)', async () => {
    const flow = await defineFlow(db, uniqueSlug('retry'), { maxAttempts: 4, baseDelay: 3, steps: ['flaky'] });
    const run = await startFlow(db, flow);
    const worker = newWorkerId();
    const first = await takeTask(db, flow, run.run_id, 'flaky', worker);
    const expected = [3, 6, 12];
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const [row] = await failTask(db, run.run_id, 'flaky', `failure ${attempt}`);
      expect(row).toMatchObject({ status: 'queued', attempts_count: attempt, error_message: `failure ${attempt}`, started_at: null, failed_at: null });
      const stored = await getTask(db, run.run_id, 'flaky');
      expect(stored).toEqual(row);
      expect(stored.message_id).toBe(first.msg_id);
      const delay = await retryDelay(flow, stored);
      expect(delay, `after failed attempt ${attempt}`).toBeGreaterThan(expected[attempt - 1]! - 1);
      expect(delay, `after failed attempt ${attempt}`).toBeLessThanOrEqual(expected[attempt - 1]! + 0.05);
      // Not visible before the delay; the step and the run stay started.
      expect(await readMessages(db, flow)).toEqual([]);
      expect((await stepStates(db, run.run_id)).flaky).toMatchObject({ status: 'started', failed_at: null });
      expect(await getRun(db, run.run_id)).toMatchObject({ status: 'started', failed_at: null });
      await skipBackoff(flow, stored.message_id);
      const [again] = await startTasks(
        db,
        flow,
        (await readMessages(db, flow)).map((m) => m.msg_id),
        worker,
      );
      expect(again).toMatchObject({ step_slug: 'flaky', msg_id: first.msg_id });
      expect(await getTask(db, run.run_id, 'flaky')).toMatchObject({ status: 'started', attempts_count: attempt + 1 });
    }
    const [done] = await completeTask(db, run.run_id, 'flaky', { finally: true });
    expect(done).toMatchObject({ status: 'completed', attempts_count: 4 });
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed' });
  });

  it('with base_delay 0 the retry is visible at once', async () => {
    const flow = await defineFlow(db, uniqueSlug('nodelay'), { baseDelay: 0, steps: ['a'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    await failTask(db, run.run_id, 'a', 'again');
    expect((await readMessages(db, flow)).map((m) => m.message.step_slug)).toEqual(['a']);
  });

  it('takes the named arguments of the reference', async () => {
    const flow = await defineFlow(db, uniqueSlug('named'), { steps: ['fetch_data'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'fetch_data');
    const rows = await db.query<StepTaskRow>(
      `SELECT * FROM pgflow.fail_task(run_id := $1::uuid, step_slug := 'fetch_data', task_index := 0, error_message := 'Connection timeout after 30s')`,
      [run.run_id],
    );
    expect(rows[0]).toMatchObject({ status: 'queued', error_message: 'Connection timeout after 30s' });
  });
});

describe('fail_task on the last attempt', () => {
  it('fails the task, its step (with the error) and the run, and archives the message', async () => {
    const flow = await defineFlow(db, uniqueSlug('exhaust'), { maxAttempts: 2, baseDelay: 0, steps: ['a', { slug: 'b', deps: ['a'] }] });
    const run = await startFlow(db, flow);
    const worker = newWorkerId();
    const task = await takeTask(db, flow, run.run_id, 'a', worker);
    await failTask(db, run.run_id, 'a', 'first');
    await startTasks(db, flow, [task.msg_id], worker);
    const [row] = await failTask(db, run.run_id, 'a', 'second and last');
    expect(row).toMatchObject({ status: 'failed', attempts_count: 2, error_message: 'second and last' });
    expect(row!.failed_at).toBeInstanceOf(Date);
    const states = await stepStates(db, run.run_id);
    expect(states.a).toMatchObject({ status: 'failed', error_message: 'second and last' });
    expect(states.a!.failed_at).toBeInstanceOf(Date);
    // b never started: it stays created, with no task.
    expect(states.b).toMatchObject({ status: 'created' });
    const failed = await getRun(db, run.run_id);
    expect(failed).toMatchObject({ status: 'failed', completed_at: null });
    expect(failed.failed_at).toBeInstanceOf(Date);
    expect(await queueRows(db, flow)).toEqual([]);
    expect((await archiveRows(db, flow)).map((m) => m.msg_id)).toEqual([task.msg_id]);
    expect((await db.query(`select 1 from pgflow.step_tasks where run_id = $1 and step_slug = 'b'`, [run.run_id])).length).toBe(0);
  });

  it('max_attempts = 1 fails at the first failure', async () => {
    const flow = await defineFlow(db, uniqueSlug('once'), { maxAttempts: 1, steps: ['a'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    const [row] = await failTask(db, run.run_id, 'a', 'no second chance');
    expect(row).toMatchObject({ status: 'failed', attempts_count: 1 });
    expect((await getRun(db, run.run_id)).status).toBe('failed');
  });

  it('max_attempts = 0, on the flow or on the step, is one attempt: the first failure fails the task and the run', async () => {
    const flow = await defineFlow(db, uniqueSlug('zero_attempts'), { maxAttempts: 0, steps: ['a'] });
    const stepZero = await defineFlow(db, uniqueSlug('zero_attempts_step'), { maxAttempts: 5, steps: [{ slug: 'a', maxAttempts: 0 }] });
    const stored = `select f.opt_max_attempts as flow, s.opt_max_attempts as step from pgflow.flows f join pgflow.steps s using (flow_slug) where f.flow_slug = $1`;
    expect(await db.query(stored, [flow])).toEqual([{ flow: 0, step: null }]);
    expect(await db.query(stored, [stepZero])).toEqual([{ flow: 5, step: 0 }]);
    for (const slug of [flow, stepZero]) {
      const run = await startFlow(db, slug);
      const task = await takeTask(db, slug, run.run_id, 'a');
      const [row] = await failTask(db, run.run_id, 'a', 'no retry with max_attempts 0');
      expect(row, slug).toMatchObject({ status: 'failed', attempts_count: 1, error_message: 'no retry with max_attempts 0' });
      expect((await getRun(db, run.run_id)).status, slug).toBe('failed');
      expect(await queueRows(db, slug)).toEqual([]);
      expect((await archiveRows(db, slug)).map((m) => m.msg_id)).toEqual([task.msg_id]);
    }
  });

  it('max_attempts = 0: a task whose worker went silent is not started again but fails, as attempt 1 of 1', async () => {
    const flow = await defineFlow(db, uniqueSlug('zero_attempts_silent'), { maxAttempts: 0, timeout: 30, steps: ['a'] });
    const run = await startFlow(db, flow);
    const task = await takeTask(db, flow, run.run_id, 'a');
    // The worker went silent long ago: move the start back past its deadline and show the message again.
    await db.query(
      `update pgflow.step_tasks set queued_at = queued_at - interval '1 minute', started_at = started_at - interval '1 minute' where run_id = $1`,
      [run.run_id],
    );
    await skipBackoff(flow, task.msg_id);
    expect(await startTasks(db, flow, [task.msg_id], newWorkerId())).toEqual([]);
    expect(await getTask(db, run.run_id, 'a')).toMatchObject({
      status: 'failed',
      attempts_count: 1,
      error_message: 'timed out: attempt 1 of 1 did not finish within 32 s (timeout + 2 s)',
    });
    expect((await getRun(db, run.run_id)).status).toBe('failed');
  });

  it('fails the run’s other queued and started tasks with an error naming the failing step, and archives their messages (decision 8)', async () => {
    const flow = await defineFlow(db, uniqueSlug('cancel'), {
      maxAttempts: 1,
      steps: [...diamondSteps, { slug: 'side' }, { slug: 'side_child', deps: ['side'] }],
    });
    const run = await startFlow(db, flow);
    const other = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'start');
    await completeTask(db, run.run_id, 'start', {});
    // branch_a started, branch_b and side queued (never read).
    await takeTask(db, flow, run.run_id, 'branch_a');
    const fresh = await takeTask(db, flow, run.run_id, 'side');
    await completeTask(db, run.run_id, 'side', {});
    const sideChild = await getTask(db, run.run_id, 'side_child');
    const branchB = await getTask(db, run.run_id, 'branch_b');
    expect(branchB.status).toBe('queued');
    await takeTask(db, flow, run.run_id, 'side_child');
    expect(fresh).toBeDefined();

    await failTask(db, run.run_id, 'branch_a', 'branch a exploded');

    const tasks = await db.query<StepTaskRow>(`select * from pgflow.step_tasks where run_id = $1`, [run.run_id]);
    const bySlug = Object.fromEntries(tasks.map((t) => [t.step_slug, t]));
    expect(bySlug.branch_a).toMatchObject({ status: 'failed', error_message: 'branch a exploded' });
    for (const slug of ['branch_b', 'side_child']) {
      expect(bySlug[slug], slug).toMatchObject({ status: 'failed' });
      expect(bySlug[slug]!.error_message, slug).toContain('branch_a');
      expect(bySlug[slug]!.failed_at, slug).toBeInstanceOf(Date);
    }
    // Completed work stays completed.
    expect(bySlug.start!.status).toBe('completed');
    expect(bySlug.side!.status).toBe('completed');
    expect(tasks.filter((t) => t.status === 'queued' || t.status === 'started')).toEqual([]);

    const states = await stepStates(db, run.run_id);
    expect(states.branch_a).toMatchObject({ status: 'failed', error_message: 'branch a exploded' });
    for (const slug of ['branch_b', 'side_child']) {
      expect(states[slug], slug).toMatchObject({ status: 'failed' });
      expect(states[slug]!.error_message, slug).toContain('branch_a');
    }
    expect(states.join!.status).toBe('created');
    expect(states.start!.status).toBe('completed');

    // No message of the failed run is left in the queue; all of its messages are archived.
    const left = await queueRows(db, flow);
    expect(left.filter((m) => m.message.run_id === run.run_id)).toEqual([]);
    const archived = (await archiveRows(db, flow)).filter((m) => m.message.run_id === run.run_id).map((m) => m.message.step_slug);
    expect(archived.sort()).toEqual(['branch_a', 'branch_b', 'side', 'side_child', 'start']);
    expect(archived).toContain(sideChild.step_slug);
    // The other run is untouched.
    expect(left.filter((m) => m.message.run_id === other.run_id).map((m) => m.message.step_slug).sort()).toEqual(['side', 'start']);
    expect((await getRun(db, other.run_id)).status).toBe('started');
  });

  it('nothing of a failed run starts, completes or fails again', async () => {
    const flow = await defineFlow(db, uniqueSlug('frozen'), { maxAttempts: 1, steps: ['a', 'b', 'c'] });
    const run = await startFlow(db, flow);
    const messages = await readMessages(db, flow, 0, 10);
    const byStep = Object.fromEntries(messages.map((m) => [m.message.step_slug, m.msg_id]));
    await startTasks(db, flow, [byStep.a!, byStep.b!], newWorkerId());
    await failTask(db, run.run_id, 'a', 'fatal');
    const snapshot = async () => ({
      run: await getRun(db, run.run_id),
      states: await stepStates(db, run.run_id),
      tasks: await db.query(`select * from pgflow.step_tasks where run_id = $1 order by step_slug`, [run.run_id]),
    });
    const before = await snapshot();
    // c's message was archived, but even asked directly start_tasks starts nothing of this run.
    expect(await startTasks(db, flow, [byStep.a!, byStep.b!, byStep.c!], newWorkerId())).toEqual([]);
    expect(await completeTask(db, run.run_id, 'b', { late: 1 })).toEqual([]);
    expect(await failTask(db, run.run_id, 'b', 'late failure')).toEqual([]);
    expect(await failTask(db, run.run_id, 'a', 'after the fact')).toEqual([]);
    expect(await snapshot()).toEqual(before);
    expect(before.run.status).toBe('failed');
  });
});

describe('per-step overrides', () => {
  it('max_attempts and base_delay of the step win over the flow’s', async () => {
    const flow = await defineFlow(db, uniqueSlug('override'), {
      maxAttempts: 5,
      baseDelay: 10,
      steps: [{ slug: 'strict', maxAttempts: 2, baseDelay: 1 }, { slug: 'lenient' }],
    });
    const run = await startFlow(db, flow);
    const worker = newWorkerId();
    const strict = await takeTask(db, flow, run.run_id, 'strict', worker);
    await takeTask(db, flow, run.run_id, 'lenient', worker);

    await failTask(db, run.run_id, 'lenient', 'uses the flow options');
    const lenientDelay = await retryDelay(flow, await getTask(db, run.run_id, 'lenient'));
    expect(lenientDelay).toBeGreaterThan(9);
    expect(lenientDelay).toBeLessThanOrEqual(10.05);

    await failTask(db, run.run_id, 'strict', 'one');
    const strictDelay = await retryDelay(flow, await getTask(db, run.run_id, 'strict'));
    expect(strictDelay).toBeGreaterThan(0);
    expect(strictDelay).toBeLessThanOrEqual(1.05);
    await skipBackoff(flow, strict.msg_id);
    await startTasks(db, flow, [strict.msg_id], worker);
    const [last] = await failTask(db, run.run_id, 'strict', 'two');
    expect(last).toMatchObject({ status: 'failed', attempts_count: 2 });
    expect((await getRun(db, run.run_id)).status).toBe('failed');
  });

  it('positional add_step options (7, 2, 30) apply to retries', async () => {
    const flow = uniqueSlug('positional');
    await db.query(`select pgflow.create_flow($1, 1, 60, 60)`, [flow]);
    await db.query(`select pgflow.add_step('${flow}', 's', 7, 2, 30)`);
    const run = await startFlow(db, flow);
    const task = await takeTask(db, flow, run.run_id, 's');
    const timeoutVt = await visibleIn(db, flow, task.msg_id);
    expect(timeoutVt).toBeGreaterThan(30);
    expect(timeoutVt).toBeLessThanOrEqual(32.05);
    const [row] = await failTask(db, run.run_id, 's', 'x');
    expect(row!.status).toBe('queued');
    const delay = await retryDelay(flow, row!);
    expect(delay).toBeGreaterThan(1);
    expect(delay).toBeLessThanOrEqual(2.05);
  });
});

describe('fail_task changes nothing and returns no row (decision 7)', () => {
  it('for a queued task', async () => {
    const flow = await defineFlow(db, uniqueSlug('queued'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    const before = await getTask(db, run.run_id, 'a');
    expect(await failTask(db, run.run_id, 'a', 'not started')).toEqual([]);
    expect(await getTask(db, run.run_id, 'a')).toEqual(before);
    expect(await visibleIn(db, flow, before.message_id!)).toBeLessThanOrEqual(0);
  });

  it('for a completed task', async () => {
    const flow = await defineFlow(db, uniqueSlug('completed'), { steps: ['a', 'b'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    await completeTask(db, run.run_id, 'a', { ok: true });
    const before = await getTask(db, run.run_id, 'a');
    expect(await failTask(db, run.run_id, 'a', 'too late')).toEqual([]);
    expect(await getTask(db, run.run_id, 'a')).toEqual(before);
    expect((await stepStates(db, run.run_id)).a!.status).toBe('completed');
    expect((await getRun(db, run.run_id)).status).toBe('started');
  });
});

describe('fail_task on a task that does not exist', () => {
  it('is a clear error naming what is missing', async () => {
    const flow = await defineFlow(db, uniqueSlug('missing'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    const unknownRun = await errorOf(() => failTask(db, '00000000-0000-4000-8000-000000000000', 'a', 'x'));
    expect(unknownRun.code).toBe('42704');
    expect(unknownRun.message).toContain('00000000-0000-4000-8000-000000000000');
    const unknownStep = await errorOf(() => failTask(db, run.run_id, 'nope', 'x'));
    expect(unknownStep.code).toBe('42704');
    expect(unknownStep.message).toContain('nope');
    const unknownIndex = await errorOf(() => failTask(db, run.run_id, 'a', 'x', 3));
    expect(unknownIndex.code).toBe('42704');
  });
});

describe('a long error message', () => {
  it('of 20 kB is stored in full and fails the run normally', async () => {
    const flow = await defineFlow(db, uniqueSlug('long_error'), { maxAttempts: 1, steps: ['a'] });
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    const message = `Error: ${'stack frame\n'.repeat(2000)}`;
    expect(message.length).toBeGreaterThan(20_000);
    const [row] = await failTask(db, run.run_id, 'a', message);
    expect(row).toMatchObject({ status: 'failed', error_message: message });
    expect((await stepStates(db, run.run_id)).a!.error_message).toBe(message);
    expect((await getRun(db, run.run_id)).status).toBe('failed');
  });
});
