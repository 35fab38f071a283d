/**
 * `--with-history N`: fills a database with N finished runs before measuring,
 * inserted directly in bulk (generate_series) so that every row satisfies the
 * tables' constraints and looks as the engine leaves a completed run: the run
 * `completed` with its leaf outputs, every step state and task `completed` in
 * one attempt, and each task's message in the queue's archive with a msg_id
 * taken from the queue's own sequence. A root map there maps over one element.
 * As a superuser the fill skips the foreign-key triggers (session_replication_role
 * = replica for its transactions): 1,000,000 runs then fit in the benchmark's time.
 * The rows satisfy the keys by construction, and a check after the fill counts
 * any task or step state without its run, which fails the benchmark.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { handler, tasksPerRun, type Scenario } from './scenarios.js';

const CHUNK_RUNS = 20_000;

export interface HistoryResult {
  runs: number;
  tasks: number;
  seconds: number;
  /** Size of the database after the fill, bytes. */
  databaseBytes: number;
}

/** Splits `total` runs as evenly as possible over the scenarios. */
export function splitHistory(total: number, scenarios: Scenario[]): Map<Scenario, number> {
  const split = new Map<Scenario, number>();
  scenarios.forEach((scenario, i) => split.set(scenario, Math.floor(total / scenarios.length) + (i < total % scenarios.length ? 1 : 0)));
  return split;
}

async function fillChunk(client: pg.Client, scenario: Scenario, offset: number, count: number, workerId: string, fast: boolean): Promise<void> {
  const flow = scenario.flowSlug;
  const archive = `pgmq."${`a_${flow}`.toLowerCase()}"`;
  const output = Object.fromEntries(scenario.leaves.map((leaf) => [leaf, handler(leaf, 0)]));
  const taskOutput = JSON.stringify({ ok: true });
  await client.query('begin');
  try {
    if (fast) {
      // Foreign-key triggers off for this transaction (superuser only): the rows are built to satisfy the keys, and
      // checking them row by row is most of a fill's time. CHECK constraints and unique indexes still apply.
      await client.query('set local session_replication_role = replica');
    }
    // Runs are spread over the last day, 10 ms apart, each taking a few milliseconds.
    await client.query(
      `create temp table history_runs on commit drop as
       select gen_random_uuid() as run_id, g as n,
         now() - interval '1 day' + (g * interval '10 ms') as t0
       from generate_series($1::integer + 1, $1::integer + $2::integer) g`,
      [offset, count],
    );
    await client.query(
      `insert into pgflow.runs (run_id, flow_slug, status, input, output, remaining_steps, started_at, completed_at)
       select r.run_id, $1::text, 'completed', case when $4::boolean then jsonb_build_array(r.n) else jsonb_build_object('n', r.n) end,
         $2::jsonb, 0, r.t0, r.t0 + ($3::integer + 1) * interval '1 ms'
       from history_runs r`,
      [flow, JSON.stringify(output), tasksPerRun(scenario), scenario.mapsOverRuns === true],
    );
    await client.query(
      `insert into pgflow.step_states (flow_slug, run_id, step_slug, status, remaining_tasks, remaining_deps, initial_tasks,
         created_at, started_at, completed_at)
       select $1::text, r.run_id, s.step_slug, 'completed', 0, 0, 1,
         r.t0, r.t0 + s.step_index * interval '1 ms', r.t0 + (s.step_index + 1) * interval '1 ms'
       from history_runs r cross join pgflow.steps s
       where s.flow_slug = $1::text`,
      [flow],
    );
    await client.query(
      `with tasks as (
         insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id, status, attempts_count, output,
           queued_at, started_at, completed_at, last_worker_id)
         select $1::text, r.run_id, s.step_slug, 0, nextval(pg_get_serial_sequence($2::text, 'msg_id')), 'completed', 1, $3::jsonb,
           r.t0 + s.step_index * interval '1 ms', r.t0 + s.step_index * interval '1 ms', r.t0 + (s.step_index + 1) * interval '1 ms', $4::uuid
         from history_runs r cross join pgflow.steps s
         where s.flow_slug = $1::text
         returning flow_slug, run_id, step_slug, task_index, message_id, queued_at, completed_at
       )
       insert into ${archive} (msg_id, read_ct, enqueued_at, archived_at, vt, message)
       select t.message_id, 1, t.queued_at, t.completed_at, t.completed_at + interval '62 seconds',
         jsonb_build_object('flow_slug', t.flow_slug, 'run_id', t.run_id, 'step_slug', t.step_slug, 'task_index', t.task_index)
       from tasks t`,
      [flow, `pgmq.q_${flow.toLowerCase()}`, taskOutput, workerId],
    );
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}

export async function fillHistory(client: pg.Client, scenarios: Scenario[], total: number, log: (line: string) => void): Promise<HistoryResult> {
  const began = performance.now();
  const workerId = randomUUID();
  await client.query('select pgflow.register_worker($1::uuid, $2::text, $3::text)', [workerId, 'history', 'pgflow-bench-history']);
  const fast = (await client.query<{ ok: boolean }>('select rolsuper as ok from pg_roles where rolname = current_user')).rows[0]?.ok === true;
  if (!fast) log('  (not a superuser: foreign keys are checked row by row, which makes the fill slower)');
  let tasks = 0;
  for (const [scenario, runs] of splitHistory(total, scenarios)) {
    const flowBegan = performance.now();
    for (let offset = 0; offset < runs; offset += CHUNK_RUNS) {
      await fillChunk(client, scenario, offset, Math.min(CHUNK_RUNS, runs - offset), workerId, fast);
    }
    tasks += runs * tasksPerRun(scenario);
    log(`  ${scenario.flowSlug}: ${runs} finished runs, ${runs * tasksPerRun(scenario)} tasks (${((performance.now() - flowBegan) / 1000).toFixed(1)} s)`);
  }
  if (fast) {
    const orphans = (
      await client.query<{ n: number }>(
        `select (select count(*) from pgflow.step_tasks t where not exists (select 1 from pgflow.step_states s where s.run_id = t.run_id and s.step_slug = t.step_slug))
              + (select count(*) from pgflow.step_states s where not exists (select 1 from pgflow.runs r where r.run_id = s.run_id)) as n`,
      )
    ).rows[0];
    if (Number(orphans?.n ?? 0) !== 0) throw new Error(`the history fill left ${orphans?.n} rows without their parent row`);
  }
  await client.query('select pgflow.stop_worker($1::uuid)', [workerId]);
  // A table that has grown this much would have been vacuumed and analyzed by autovacuum by now.
  await client.query('vacuum analyze');
  const size = (await client.query<{ bytes: string }>('select pg_database_size(current_database())::text as bytes')).rows[0];
  return { runs: total, tasks, seconds: (performance.now() - began) / 1000, databaseBytes: Number(size?.bytes ?? 0) };
}
