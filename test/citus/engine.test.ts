/**
 * The engine on a distributed install, through plain SQL as any worker drives
 * it: flows and steps are defined on the reference tables, start_flow places
 * a run's rows on one worker node and queues its root tasks on the
 * coordinator, claim_tasks starts tasks run by run (statements Citus routes
 * to each run's node), complete_tasks and fail_task move runs to their end,
 * and the events reach LISTENers on the coordinator.
 */
import { describe, expect, it } from 'vitest';
import { defineFlow, diamondSteps, newWorkerId, uniqueSlug } from '../engine/support.js';
import { listen } from '../support/events.js';
import { useCitusDatabase } from './support.js';

const db = useCitusDatabase();

const startRun = async (flowSlug: string, input: unknown = {}) =>
  (await db.query<{ run_id: string }>(`select run_id from pgflow.start_flow($1::text, $2::jsonb)`, [flowSlug, JSON.stringify(input)]))[0]!.run_id;

const queue = async (flowSlug: string) =>
  db.query<{ msg_id: string; read_ct: number; visible: boolean; step_slug: string }>(
    `select msg_id, read_ct, vt <= clock_timestamp() as visible, message ->> 'step_slug' as step_slug from pgmq."q_${flowSlug}" order by msg_id`,
  );

describe('the engine on Citus', () => {
  it('defines flows on the reference tables and starts runs on the worker nodes, with run:started heard on the coordinator', async () => {
    const flow = await defineFlow(db, uniqueSlug('diamond'), { steps: diamondSteps });
    expect((await db.query(`select step_slug, step_index, deps_count from pgflow.steps where flow_slug = $1 order by step_index`, [flow])).length).toBe(4);
    const listener = await listen(await db.connect(), ['pgflow_events', flow]);

    const runIds: string[] = [];
    for (let i = 0; i < 20; i++) runIds.push(await startRun(flow, { n: i }));
    const events = await listener.waitFor(flow, (e) => e.event === 'run:started', 20);
    expect(new Set(events.map((r) => r.event.payload.run_id))).toEqual(new Set(runIds));
    expect(listener.on('pgflow_events').filter((r) => r.event.event === 'run:started')).toHaveLength(20);

    // Each run: the root started with one queued task, the rest waiting.
    const states = await db.query<{ step_slug: string; status: string; runs: number }>(
      `select step_slug, status, count(*)::int as runs from pgflow.step_states where flow_slug = $1 group by 1, 2 order by 1, 2`,
      [flow],
    );
    expect(states).toEqual([
      { step_slug: 'branch_a', status: 'created', runs: 20 },
      { step_slug: 'branch_b', status: 'created', runs: 20 },
      { step_slug: 'join', status: 'created', runs: 20 },
      { step_slug: 'start', status: 'started', runs: 20 },
    ]);
    const messages = await queue(flow);
    expect(messages.map((m) => m.step_slug)).toEqual(Array(20).fill('start'));
    const [tasks] = await db.query<{ queued: number; linked: number }>(
      `select count(*)::int as queued, count(*) filter (where message_id = any($2::bigint[]))::int as linked
       from pgflow.step_tasks where flow_slug = $1 and status = 'queued'`,
      [flow, messages.map((m) => m.msg_id)],
    );
    expect(tasks).toEqual({ queued: 20, linked: 20 });

    // The runs are spread over the worker nodes' shards; a run's rows sit on the node of its run id.
    const [spread] = await db.query<{ nodes: number }>(
      `select count(distinct s.nodeport)::int as nodes
       from unnest($1::uuid[]) as r(run_id)
       join citus_shards s on s.table_name = 'pgflow.runs'::regclass
         and s.shardid = get_shard_id_for_distribution_column('pgflow.runs', r.run_id)`,
      [runIds],
    );
    expect(spread!.nodes).toBe(db.workerUrls.length);

    // Reading a run is delegated to its node and answers on the coordinator.
    const [read] = await db.query<{ doc: { run: { run_id: string; status: string } } }>(`select pgflow.get_run_with_states($1::uuid) as doc`, [runIds[0]]);
    expect(read!.doc.run).toMatchObject({ run_id: runIds[0], status: 'started' });
    // So do the functions that build a step's input and check its condition (PL/pgSQL, every read naming the run id).
    const [input] = await db.query(
      `select pgflow.step_input($1::uuid, 'start') as input, pgflow.step_output($1::uuid, 'start') as output,
              pgflow.step_condition_met($1::uuid, 'join') as met`,
      [runIds[3]],
    );
    expect(input).toEqual({ input: { run: { n: 3 } }, output: null, met: true });
    await listener.stop();
  });

  it('claims, starts and completes tasks run by run: each task once, inputs and outputs as on one server, events on the coordinator', async () => {
    const flow = await defineFlow(db, uniqueSlug('claim'), { steps: diamondSteps });
    const listener = await listen(await db.connect(), [flow]);
    const runIds: string[] = [];
    for (let i = 0; i < 12; i++) runIds.push(await startRun(flow, { n: i }));
    const worker = newWorkerId();
    const starts = new Map<string, number>();
    // Drain with the batched protocol until every run is done.
    for (let round = 0; round < 50; round++) {
      const claimed = await db.query<{ run_id: string; step_slug: string; task_index: number; input: { run: { n: number } } & Record<string, unknown> }>(
        `select * from pgflow.claim_tasks($1::text, $2::uuid, 20)`,
        [flow, worker],
      );
      if (claimed.length === 0) {
        const [left] = await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = $1 and status = 'started'`, [flow]);
        if (left!.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      for (const task of claimed) starts.set(`${task.run_id}/${task.step_slug}`, (starts.get(`${task.run_id}/${task.step_slug}`) ?? 0) + 1);
      const outputs = claimed.map((task) => JSON.stringify({ step: task.step_slug, n: task.input.run.n, deps: Object.keys(task.input).sort() }));
      const completed = await db.query(`select * from pgflow.complete_tasks($1::uuid[], $2::text[], $3::int[], $4::jsonb[])`, [
        claimed.map((task) => task.run_id),
        claimed.map((task) => task.step_slug),
        claimed.map((task) => task.task_index),
        outputs,
      ]);
      expect(completed).toHaveLength(claimed.length);
    }
    expect([...starts.values()].every((count) => count === 1)).toBe(true);
    expect(starts.size).toBe(12 * 4);
    const runs = await db.query<{ run_id: string; status: string; output: unknown; input: { n: number } }>(
      `select run_id, status, output, input from pgflow.runs where flow_slug = $1`,
      [flow],
    );
    for (const run of runs) {
      expect(run).toMatchObject({ status: 'completed', output: { join: { step: 'join', n: run.input.n, deps: ['branch_a', 'branch_b', 'run'] } } });
    }
    const [tasks] = await db.query<{ all: number; once: number }>(
      `select count(*)::int as all, count(*) filter (where status = 'completed' and attempts_count = 1)::int as once from pgflow.step_tasks where flow_slug = $1`,
      [flow],
    );
    expect(tasks).toEqual({ all: 48, once: 48 });
    expect(await queue(flow)).toEqual([]);
    const completedEvents = await listener.waitFor(flow, (e) => e.event === 'run:completed', 12);
    expect(new Set(completedEvents.map((e) => e.event.payload.run_id))).toEqual(new Set(runIds));
    await listener.stop();
  });

  it('four workers drain 500 runs concurrently: every task handed out and completed exactly once', async () => {
    const flow = await defineFlow(db, uniqueSlug('race'), { steps: [{ slug: 'first' }, { slug: 'second', deps: ['first'] }] });
    const inputs = Array.from({ length: 500 }, (_, n) => JSON.stringify({ n }));
    await db.query(`select count(*) from pgflow.start_flows($1::text, $2::jsonb[])`, [flow, inputs]);
    const handedOut: string[] = [];
    const worker = async () => {
      const client = await db.connect();
      const workerId = newWorkerId();
      let idle = 0;
      while (idle < 20) {
        const { rows: tasks } = await client.query<{ run_id: string; step_slug: string; task_index: number; input: { run: { n: number } } }>(
          `select * from pgflow.claim_tasks($1::text, $2::uuid, 10)`,
          [flow, workerId],
        );
        if (tasks.length === 0) {
          const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = $1 and status = 'started'`, [flow]);
          if (rows[0]!.n === 0) return;
          idle += 1;
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        idle = 0;
        for (const task of tasks) handedOut.push(`${task.run_id}/${task.step_slug}`);
        const { rows: completed } = await client.query(`select * from pgflow.complete_tasks($1::uuid[], $2::text[], $3::int[], $4::jsonb[])`, [
          tasks.map((task) => task.run_id),
          tasks.map((task) => task.step_slug),
          tasks.map((task) => task.task_index),
          tasks.map((task) => JSON.stringify({ n: task.input.run.n, step: task.step_slug })),
        ]);
        expect(completed).toHaveLength(tasks.length);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);

    expect(handedOut).toHaveLength(1000);
    expect(new Set(handedOut).size).toBe(1000);
    const [runs] = await db.query<{ completed: number; right: number }>(
      `select count(*) filter (where status = 'completed')::int as completed,
              count(*) filter (where output = jsonb_build_object('second', jsonb_build_object('n', input -> 'n', 'step', 'second')))::int as right
       from pgflow.runs where flow_slug = $1`,
      [flow],
    );
    expect(runs).toEqual({ completed: 500, right: 500 });
    const [tasks] = await db.query<{ all: number; once: number }>(
      `select count(*)::int as all, count(*) filter (where status = 'completed' and attempts_count = 1)::int as once from pgflow.step_tasks where flow_slug = $1`,
      [flow],
    );
    expect(tasks).toEqual({ all: 1000, once: 1000 });
    expect(await queue(flow)).toEqual([]);
  });

  it('retries a failed task after its backoff and fails the run when no attempt is left', async () => {
    const flow = await defineFlow(db, uniqueSlug('failing'), { maxAttempts: 2, baseDelay: 1, steps: ['only'] });
    const runId = await startRun(flow);
    const worker = newWorkerId();
    const take = async () => (await db.query<{ attempts_count: number }>(`select * from pgflow.claim_tasks($1::text, $2::uuid, 1)`, [flow, worker]))[0];
    expect(await take()).toMatchObject({ attempts_count: 1 });
    expect(await db.query(`select status from pgflow.fail_task($1::uuid, 'only', 0, 'first try')`, [runId])).toEqual([{ status: 'queued' }]);
    expect(await take()).toBeUndefined(); // hidden for its backoff
    let second: { attempts_count: number } | undefined;
    for (let i = 0; i < 40 && !second; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      second = await take();
    }
    expect(second).toMatchObject({ attempts_count: 2 });
    expect(await db.query(`select status from pgflow.fail_task($1::uuid, 'only', 0, 'second try')`, [runId])).toEqual([{ status: 'failed' }]);
    expect(await db.query(`select status from pgflow.runs where run_id = $1`, [runId])).toEqual([{ status: 'failed' }]);
    expect(await queue(flow)).toEqual([]);
  });
});
