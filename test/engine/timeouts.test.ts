/**
 * Decision 6: a worker that dies mid-task. Its message reappears after
 * timeout + 2 s; start_tasks on it then starts a new attempt, but only once
 * the task's own deadline has passed; with no attempt left the task fails like
 * an exhausted one. Timeouts of 1 s keep these tests short (real waits).
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { listen } from '../support/events.js';
import {
  archiveRows,
  completeTask,
  defineFlow,
  getRun,
  getTask,
  newWorkerId,
  queueRows,
  readMessages,
  sleep,
  startFlow,
  startTasks,
  stepStates,
  takeTask,
  uniqueSlug,
  visibleIn,
  type MessageRow,
} from './support.js';

const db = useTestDatabase();

/** Polls pgmq.read until the message of `msgId` is handed out again (or `limitMs` passes). */
async function waitForRedelivery(flow: string, msgId: string, limitMs = 6_000): Promise<{ message: MessageRow; waitedMs: number }> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const messages = await readMessages(db, flow, 30, 10);
    const found = messages.find((m) => m.msg_id === msgId);
    if (found) return { message: found, waitedMs: Date.now() - started };
    await sleep(100);
  }
  throw new Error(`message ${msgId} did not reappear within ${limitMs} ms`);
}

describe('a task whose worker died', () => {
  it('reappears after timeout + 2 s and starts again as a new attempt', async () => {
    const flow = await defineFlow(db, uniqueSlug('dead_worker'), { timeout: 1, maxAttempts: 3, steps: ['a'] });
    const run = await startFlow(db, flow, { n: 1 });
    const dead = newWorkerId();
    const [message] = await readMessages(db, flow, 30, 1);
    const [first] = await startTasks(db, flow, [message!.msg_id], dead);
    expect(first).toBeDefined();
    const firstStart = (await getTask(db, run.run_id, 'a')).started_at!;
    const seconds = await visibleIn(db, flow, message!.msg_id);
    expect(seconds).toBeGreaterThan(1);
    expect(seconds).toBeLessThanOrEqual(3.05);

    // The worker dies: nothing calls complete_task or fail_task.
    expect(await readMessages(db, flow, 30, 10)).toEqual([]);
    const { message: again } = await waitForRedelivery(flow, message!.msg_id);
    expect(again.read_ct).toBe(2);
    const [elapsed] = await db.query<{ s: number }>(`select extract(epoch from clock_timestamp() - $1::timestamptz)::float8 as s`, [firstStart]);
    expect(elapsed!.s).toBeGreaterThanOrEqual(2.9);

    const rescuer = newWorkerId();
    const [second] = await startTasks(db, flow, [again.msg_id], rescuer);
    expect(second).toMatchObject({ run_id: run.run_id, step_slug: 'a', input: { run: { n: 1 } } });
    const task = await getTask(db, run.run_id, 'a');
    expect(task).toMatchObject({ status: 'started', attempts_count: 2, last_worker_id: rescuer });
    expect(task.started_at!.getTime()).toBeGreaterThan(firstStart.getTime());
    // Hidden again for a full timeout + 2 s.
    const hidden = await visibleIn(db, flow, message!.msg_id);
    expect(hidden).toBeGreaterThan(1);
    expect(hidden).toBeLessThanOrEqual(3.05);

    expect(await completeTask(db, run.run_id, 'a', { rescued: true })).toHaveLength(1);
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { a: { rescued: true } } });
  });

  it('cannot be started again before its deadline, even when its message is visible', async () => {
    const flow = await defineFlow(db, uniqueSlug('too_early'), { timeout: 30, steps: ['a'] });
    const run = await startFlow(db, flow);
    const owner = newWorkerId();
    const task = await takeTask(db, flow, run.run_id, 'a', owner);
    // Someone makes the message visible early (e.g. a worker that read with a short vt).
    await db.query(`select pgmq.set_vt($1, $2::bigint, 0)`, [flow, task.msg_id]);
    const messages = await readMessages(db, flow, 1, 10);
    expect(messages.map((m) => m.msg_id)).toEqual([task.msg_id]);
    expect(await startTasks(db, flow, [task.msg_id], newWorkerId())).toEqual([]);
    expect(await getTask(db, run.run_id, 'a')).toMatchObject({ status: 'started', attempts_count: 1, last_worker_id: owner });
    // The original worker can still finish.
    expect(await completeTask(db, run.run_id, 'a', 'late but fine')).toHaveLength(1);
  });

  it('uses the step’s timeout override, else the flow’s', async () => {
    const flow = await defineFlow(db, uniqueSlug('step_timeout'), { timeout: 60, steps: [{ slug: 'short', timeout: 1 }, { slug: 'long' }] });
    const run = await startFlow(db, flow);
    const dead = newWorkerId();
    const short = await takeTask(db, flow, run.run_id, 'short', dead);
    const long = await takeTask(db, flow, run.run_id, 'long', dead);
    const { message } = await waitForRedelivery(flow, short.msg_id);
    expect(message.message.step_slug).toBe('short');
    const visibleLong = await visibleIn(db, flow, long.msg_id);
    expect(visibleLong).toBeGreaterThan(55);
    const [restarted] = await startTasks(db, flow, [short.msg_id], newWorkerId());
    expect(restarted!.step_slug).toBe('short');
    expect((await getTask(db, run.run_id, 'short')).attempts_count).toBe(2);
    expect((await getTask(db, run.run_id, 'long')).attempts_count).toBe(1);
  });

  it('with no attempt left fails the task, the step and the run like an exhausted task', async () => {
    const flow = await defineFlow(db, uniqueSlug('timeout_exhausted'), { timeout: 1, maxAttempts: 1, steps: ['fetcher', 'b', { slug: 'c', deps: ['fetcher'] }] });
    const events = await listen(await db.connect(), [flow]);
    const run = await startFlow(db, flow);
    const dead = newWorkerId();
    const a = await takeTask(db, flow, run.run_id, 'fetcher', dead);
    const b = await getTask(db, run.run_id, 'b');
    const { message } = await waitForRedelivery(flow, a.msg_id);
    expect(await startTasks(db, flow, [message.msg_id], newWorkerId())).toEqual([]);

    const task = await getTask(db, run.run_id, 'fetcher');
    expect(task).toMatchObject({ status: 'failed', attempts_count: 1 });
    expect(task.failed_at).toBeInstanceOf(Date);
    expect(task.error_message).toBeTruthy();
    const states = await stepStates(db, run.run_id);
    expect(states.fetcher).toMatchObject({ status: 'failed' });
    expect(states.fetcher!.error_message).toBeTruthy();
    expect(states.c!.status).toBe('created');
    const failed = await getRun(db, run.run_id);
    expect(failed.status).toBe('failed');
    expect(failed.failed_at).toBeInstanceOf(Date);
    // Decision 8 applies: b (queued) is failed too, and no message of the run is left.
    expect(await getTask(db, run.run_id, 'b')).toMatchObject({ status: 'failed' });
    expect((await getTask(db, run.run_id, 'b')).error_message).toContain('fetcher');
    expect(await queueRows(db, flow)).toEqual([]);
    expect((await archiveRows(db, flow)).map((m) => m.msg_id).sort()).toEqual([a.msg_id, b.message_id].sort());
    // The dead worker coming back late changes nothing.
    expect(await completeTask(db, run.run_id, 'fetcher', 'too late')).toEqual([]);

    // Listeners learn of it like of any exhausted task: step:failed, then run:failed last.
    const received = await events.waitFor(flow, (e) => e.event === 'run:failed', 1);
    const names = events.on(flow).map((r) => `${r.event.event}${r.event.payload.step_slug ? `@${r.event.payload.step_slug}` : ''}`);
    expect(names.slice(0, 2)).toEqual(['run:started', 'step:started@fetcher']);
    expect(names[2]).toBe('step:failed@fetcher');
    expect(names.at(-1)).toBe('run:failed');
    expect(typeof received[0]!.event.payload.error_message).toBe('string');
    await events.stop();
  });
});

describe('a timeout at the integer maximum', () => {
  const INT_MAX = 2147483647;
  const YEAR_S = 365.25 * 24 * 3600;

  it('overflows nothing: claim_tasks, start_tasks and a redelivery of the running task hide the message about 68 years', async () => {
    const flow = await defineFlow(db, uniqueSlug('huge_timeout'), { timeout: INT_MAX, steps: ['a', 'b', 'c'] });
    const run = await startFlow(db, flow);
    const worker = newWorkerId();

    const claimed = await db.query<{ step_slug: string; msg_id: string }>(`select * from pgflow.claim_tasks($1, $2::uuid, 1)`, [flow, worker]);
    expect(claimed).toHaveLength(1);
    const [messageB] = await readMessages(db, flow, 30, 1);
    const started = await startTasks(db, flow, [messageB!.msg_id], worker);
    expect(started).toHaveLength(1);
    for (const msgId of [claimed[0]!.msg_id, messageB!.msg_id]) {
      const seconds = (await visibleIn(db, flow, msgId))!;
      expect(seconds / YEAR_S).toBeGreaterThan(67);
      expect(seconds / YEAR_S).toBeLessThan(69);
    }

    // The running task's message shows up again early (say, by hand): start_tasks leaves the task alone and
    // pushes the message back to the task's deadline, which is past the integer maximum of seconds away.
    await db.query(`select pgmq.set_vt($1, $2::bigint, 0)`, [flow, messageB!.msg_id]);
    expect(await startTasks(db, flow, [messageB!.msg_id], newWorkerId())).toEqual([]);
    expect(await getTask(db, run.run_id, started[0]!.step_slug)).toMatchObject({ status: 'started', attempts_count: 1, last_worker_id: worker });
    expect((await visibleIn(db, flow, messageB!.msg_id))! / YEAR_S).toBeGreaterThan(67);

    for (const task of [...claimed, ...started]) expect(await completeTask(db, run.run_id, task.step_slug, 'done')).toHaveLength(1);
    expect((await getRun(db, run.run_id)).status).toBe('started');
  });
});
