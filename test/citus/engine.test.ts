/**
 * The engine on a distributed install, through plain SQL as any worker drives
 * it, as far as it goes today: flows and steps are defined on the reference
 * tables, start_flow places a run's rows on one worker node and queues its
 * root tasks on the coordinator, and run:started reaches a LISTENer on the
 * coordinator. Starting tasks (start_tasks, claim_tasks) is where it stops:
 * its statement locks tasks of many runs with FOR UPDATE SKIP LOCKED, which
 * Citus runs only within one shard. These tests pin that limit down (and the
 * consistency of what a refused claim leaves behind), so they fail, and say
 * so, the day the start of tasks is made to work run by run.
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

  it('refuses to start tasks (a multi-shard FOR UPDATE SKIP LOCKED) and leaves the queue and the tasks as they were', async () => {
    const flow = await defineFlow(db, uniqueSlug('claim'), { steps: ['only'] });
    const runId = await startRun(flow);
    const before = await queue(flow);
    expect(before).toMatchObject([{ read_ct: 0, visible: true, step_slug: 'only' }]);

    const claimed = await db.query(`select * from pgflow.claim_tasks($1::text, $2::uuid, 10)`, [flow, newWorkerId()]).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(claimed).toBe('could not run distributed query with FOR UPDATE/SHARE commands');
    const started = await db
      .query(`select * from pgmq.read($1, 30, 1) m cross join lateral pgflow.start_tasks($1, array[m.msg_id], $2::uuid)`, [flow, newWorkerId()])
      .then(
        () => undefined,
        (error: Error) => error.message,
      );
    expect(started).toBe('could not run distributed query with FOR UPDATE/SHARE commands');

    // Both calls were rolled back whole: the message is visible and unread, the task still queued.
    expect(await queue(flow)).toEqual(before);
    const [task] = await db.query(`select status, attempts_count, last_worker_id from pgflow.step_tasks where run_id = $1`, [runId]);
    expect(task).toEqual({ status: 'queued', attempts_count: 0, last_worker_id: null });
  });

  it('routes the same kind of locking read whole to the run’s node once every runtime table is filtered by the run id', async () => {
    const flow = await defineFlow(db, uniqueSlug('routed'), { steps: ['first', { slug: 'second', deps: ['first'] }] });
    const runId = await startRun(flow, { n: 7 });
    const [message] = await queue(flow);
    // The shape of the start of tasks (lock the message's task with SKIP LOCKED, read the run's input and the
    // dependencies' outputs through subqueries), with the run id written into each reference to a runtime table:
    // Citus plans it for one shard and runs it there, so this is the form the engine's statements need.
    const rows = await db.query(
      `select t.step_slug, s.step_type,
         (select r.input from pgflow.runs r where r.run_id = $1) as run_input,
         (select count(*)::int from pgflow.deps d join pgflow.step_tasks x on x.run_id = $1 and x.step_slug = d.dep_slug
          where d.flow_slug = t.flow_slug and d.step_slug = t.step_slug) as deps
       from pgflow.step_tasks t join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
       where t.run_id = $1 and t.flow_slug = $2 and t.message_id = any($3::bigint[])
         and (select r.status from pgflow.runs r where r.run_id = $1) = 'started'
       for update of t skip locked`,
      [runId, flow, [message!.msg_id]],
    );
    expect(rows).toEqual([{ step_slug: 'first', step_type: 'single', run_input: { n: 7 }, deps: 0 }]);
  });
});
