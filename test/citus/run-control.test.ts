/**
 * Operating runs on a distributed install: cancelling a run, retrying it from
 * the step that failed, starting many runs in one call, and pruning finished
 * runs with everything they left behind.
 */
import { describe, expect, it } from 'vitest';
import { defineFlow, diamondSteps, newWorkerId, uniqueSlug } from '../engine/support.js';
import { listen } from '../support/events.js';
import { useCitusDatabase } from './support.js';

const db = useCitusDatabase();

interface Claimed {
  run_id: string;
  step_slug: string;
  task_index: number;
  input: Record<string, unknown>;
}

const startRun = async (flowSlug: string, input: unknown = {}) =>
  (await db.query<{ run_id: string }>(`select run_id from pgflow.start_flow($1::text, $2::jsonb)`, [flowSlug, JSON.stringify(input)]))[0]!.run_id;

const claim = (flowSlug: string, worker = newWorkerId(), qty = 25) =>
  db.query<Claimed>(`select * from pgflow.claim_tasks($1::text, $2::uuid, $3::int)`, [flowSlug, worker, qty]);

const complete = (tasks: Claimed[]) =>
  db.query(`select * from pgflow.complete_tasks($1::uuid[], $2::text[], $3::int[], $4::jsonb[])`, [
    tasks.map((t) => t.run_id),
    tasks.map((t) => t.step_slug),
    tasks.map((t) => t.task_index),
    tasks.map((t) => JSON.stringify({ step: t.step_slug })),
  ]);

/** Claims and completes every task of the flow until no run of it is `started`. */
async function drain(flowSlug: string): Promise<number> {
  let handled = 0;
  for (let round = 0; round < 100; round++) {
    const tasks = await claim(flowSlug);
    if (tasks.length > 0) {
      handled += tasks.length;
      await complete(tasks);
      continue;
    }
    const [left] = await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = $1 and status = 'started'`, [flowSlug]);
    if (left!.n === 0) return handled;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the runs of ${flowSlug} did not finish`);
}

const queueLength = async (flowSlug: string) => (await db.query<{ n: number }>(`select count(*)::int as n from pgmq."q_${flowSlug}"`))[0]!.n;

describe('operating runs on Citus', () => {
  it('cancels a run with tasks running, and retries it from where it stopped', async () => {
    const flow = await defineFlow(db, uniqueSlug('cancel'), { steps: diamondSteps });
    const listener = await listen(await db.connect(), [flow]);
    const runId = await startRun(flow, { n: 1 });
    await complete(await claim(flow)); // start
    const running = await claim(flow); // branch_a and branch_b, started
    expect(running.map((t) => t.step_slug).sort()).toEqual(['branch_a', 'branch_b']);

    const [cancelled] = await db.query<{ status: string; cancel_reason: string }>(`select status, cancel_reason from pgflow.cancel_run($1::uuid, 'wrong input')`, [runId]);
    expect(cancelled).toEqual({ status: 'cancelled', cancel_reason: 'wrong input' });
    expect(await queueLength(flow)).toBe(0);
    // The worker holding a cancelled task gets nothing back.
    expect(await complete(running)).toEqual([]);
    const states = await db.query<{ step_slug: string; status: string }>(`select step_slug, status from pgflow.step_states where run_id = $1 order by step_slug`, [runId]);
    expect(states).toEqual([
      { step_slug: 'branch_a', status: 'cancelled' },
      { step_slug: 'branch_b', status: 'cancelled' },
      { step_slug: 'join', status: 'cancelled' },
      { step_slug: 'start', status: 'completed' },
    ]);
    await listener.waitFor(flow, (e) => e.event === 'run:cancelled' && e.payload.run_id === runId, 1);

    const [retried] = await db.query<{ status: string; remaining_steps: number }>(`select status, remaining_steps from pgflow.retry_run($1::uuid)`, [runId]);
    expect(retried).toEqual({ status: 'started', remaining_steps: 3 });
    expect(await drain(flow)).toBe(3); // branch_a, branch_b, join: start is not run again
    const [run] = await db.query<{ status: string; output: unknown }>(`select status, output from pgflow.runs where run_id = $1`, [runId]);
    expect(run).toEqual({ status: 'completed', output: { join: { step: 'join' } } });
    const tasks = await db.query<{ step_slug: string; attempts_count: number; status: string }>(
      `select step_slug, attempts_count, status from pgflow.step_tasks where run_id = $1 order by step_slug`,
      [runId],
    );
    expect(tasks.every((t) => t.status === 'completed' && t.attempts_count === 1)).toBe(true);
    await listener.waitFor(flow, (e) => e.event === 'run:retried' && e.payload.run_id === runId, 1);
    await listener.stop();
  });

  it('starts many runs in one call, each on the node of its run id', async () => {
    const flow = await defineFlow(db, uniqueSlug('batch'), { steps: diamondSteps });
    const inputs = Array.from({ length: 30 }, (_, n) => JSON.stringify({ n }));
    const started = await db.query<{ run_id: string; input: { n: number } }>(`select run_id, input from pgflow.start_flows($1::text, $2::jsonb[])`, [flow, inputs]);
    expect(started.map((r) => r.input.n)).toEqual(inputs.map((_, n) => n));
    expect(await queueLength(flow)).toBe(30);
    expect(await drain(flow)).toBe(30 * 4);
    const [done] = await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = $1 and status = 'completed'`, [flow]);
    expect(done!.n).toBe(30);
  });

  it('pauses and resumes a flow, and fires a schedule once per tick', async () => {
    const flow = await defineFlow(db, uniqueSlug('paused'), { steps: ['only'] });
    const [paused] = await db.query<{ paused: boolean }>(`select paused_at is not null as paused from pgflow.pause_flow($1::text)`, [flow]);
    expect(paused).toEqual({ paused: true });
    const runId = await startRun(flow, { n: 1 });
    expect(await claim(flow)).toEqual([]); // nothing of a paused flow starts
    await db.query(`select pgflow.resume_flow($1::text)`, [flow]);
    const [task] = await claim(flow);
    expect(task).toMatchObject({ run_id: runId, step_slug: 'only' });
    await complete([task!]);

    await db.query(`select pgflow.schedule_flow($1::text, 'hourly', '0 * * * *', '{"from": "schedule"}'::jsonb)`, [flow]);
    await db.query(`select pgflow.schedule_flow($1::text, 'hourly', '30 * * * *', '{"from": "schedule"}'::jsonb)`, [flow]);
    const tick = '2026-12-07T10:30:00Z';
    const [first] = await db.query<{ run_id: string | null }>(`select pgflow.fire_schedule($1::text, 'hourly', $2::timestamptz) as run_id`, [flow, tick]);
    const [again] = await db.query<{ run_id: string | null }>(`select pgflow.fire_schedule($1::text, 'hourly', $2::timestamptz) as run_id`, [flow, tick]);
    expect(first!.run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(again).toEqual({ run_id: null });
    expect(await drain(flow)).toBe(1);
    const [scheduled] = await db.query(`select status, input from pgflow.runs where run_id = $1`, [first!.run_id]);
    expect(scheduled).toEqual({ status: 'completed', input: { from: 'schedule' } });
  });

  it('prunes finished runs with their states, tasks and archived messages, leaving running ones alone', async () => {
    const flow = await defineFlow(db, uniqueSlug('prune'), { steps: ['only'] });
    const finished: string[] = [];
    for (let n = 0; n < 6; n++) finished.push(await startRun(flow, { n }));
    await drain(flow);
    const running = await startRun(flow, { n: 99 });
    // Every finished run of the database goes (the earlier tests' too), with what it left behind.
    const [finishedRows] = await db.query<{ runs: string; states: string; tasks: string }>(
      `select count(distinct r.run_id) as runs, count(distinct (s.run_id, s.step_slug)) as states, count(distinct (t.run_id, t.step_slug, t.task_index)) as tasks
       from pgflow.runs r join pgflow.step_states s on s.run_id = r.run_id left join pgflow.step_tasks t on t.run_id = r.run_id
       where r.status <> 'started'`,
    );
    const [archived] = await db.query<{ n: string }>(`select count(*) as n from pgmq."a_${flow}"`);
    expect(archived!.n).toBe('6');
    const [pruned] = await db.query(`select * from pgflow.prune_batch('0 seconds'::interval, 1000)`);
    expect(pruned).toMatchObject({ pruned_runs: finishedRows!.runs, pruned_step_states: finishedRows!.states, pruned_step_tasks: finishedRows!.tasks });
    expect(Number(finishedRows!.runs)).toBeGreaterThanOrEqual(6);
    const left = await db.query<{ run_id: string; status: string }>(`select run_id, status from pgflow.runs`);
    expect(left).toEqual([{ run_id: running, status: 'started' }]);
    expect(await db.query(`select status from pgflow.step_tasks where run_id = $1`, [running])).toEqual([{ status: 'queued' }]);
    const [archive] = await db.query<{ n: number }>(`select count(*)::int as n from pgmq."a_${flow}"`);
    expect(archive!.n).toBe(0);
  });
});
