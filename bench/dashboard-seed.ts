/**
 * Fills a database with many runs for the dashboard's measurements and plan
 * tests, in bulk (generate_series, a chunk per transaction), the way the
 * engine leaves them: time-ordered run ids (UUIDv7 of their start time)
 * spread over the last two days, most runs completed, some failed, a few
 * cancelled, some still running, every step state and task consistent with
 * its run (one task per step), and optionally each finished task's message in the queue's
 * archive, as completion leaves it.
 */
import type pg from 'pg';

export interface SeedOptions {
  /** Runs in all, spread evenly over the flows. */
  runs: number;
  /** Flows to create, each a chain of `stepsPerFlow` steps (`seed_flow_<n>`). */
  flows: number;
  stepsPerFlow: number;
  /** Also write archived queue messages for finished tasks (what the tasks-per-second figure reads). */
  archive?: boolean;
  /** Spread runs over this many hours before now (default 48). */
  hours?: number;
}

const CHUNK = 20_000;

/** A UUIDv7 for time `t` (SQL expression; `t` is a timestamptz expression). */
const uuidV7At = (t: string) => `encode(
  set_bit(set_bit(
    overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from ${t}) * 1000)::bigint) from 3) from 1 for 6),
  52, 1), 53, 1), 'hex')::uuid`;

export const seedFlowSlug = (index: number) => `seed_flow_${index + 1}`;

async function defineFlows(client: pg.ClientBase, options: SeedOptions): Promise<void> {
  for (let flow = 0; flow < options.flows; flow++) {
    const slug = seedFlowSlug(flow);
    await client.query(`select pgflow.create_flow($1::text, max_attempts => 3, base_delay => 1, timeout => 30)`, [slug]);
    for (let step = 0; step < options.stepsPerFlow; step++) {
      await client.query(`select pgflow.add_step($1::text, $2::text, $3::text[])`, [slug, `step_${step + 1}`, step === 0 ? [] : [`step_${step}`]]);
    }
  }
}

async function seedChunk(client: pg.ClientBase, options: SeedOptions, flow: string, first: number, count: number, total: number): Promise<void> {
  const hours = options.hours ?? 48;
  await client.query('begin');
  try {
    // Run n of `total` starts at an even spacing over the window; 5% fail, 2% are cancelled, the newest 2% are still running.
    await client.query(
      `create temp table seed_runs on commit drop as
       select ${uuidV7At('t0')} as run_id, n, t0,
              case when n > $3::int * 0.98 then 'started' when n % 20 = 7 then 'failed' when n % 50 = 13 then 'cancelled' else 'completed' end as status
         from (select g as n, now() - make_interval(secs => $4::float8 * 3600 * (1 - g::float8 / $3::int)) as t0
                 from generate_series($1::int, $1::int + $2::int - 1) g) s`,
      [first, count, total, hours],
    );
    await client.query(
      `insert into pgflow.runs (run_id, flow_slug, status, input, output, remaining_steps, started_at, completed_at, failed_at, cancelled_at, cancel_reason)
       select r.run_id, $1::text, r.status, jsonb_build_object('orderId', 'ord-' || r.n, 'customer', 'cus-' || (r.n % 1000), 'items', r.n % 7),
              case when r.status = 'completed' then jsonb_build_object('done', r.n) end,
              case when r.status in ('started', 'cancelled') then 1 else 0 end, r.t0,
              case when r.status = 'completed' then r.t0 + interval '80 ms' end,
              case when r.status = 'failed' then r.t0 + interval '50 ms' end,
              case when r.status = 'cancelled' then r.t0 + interval '60 ms' end,
              case when r.status = 'cancelled' then 'seeded cancellation' end
         from seed_runs r`,
      [flow],
    );
    // The last step of a failed run failed; of a running run, is running; of a cancelled run, was cancelled while it
    // ran; everything before it completed.
    await client.query(
      `insert into pgflow.step_states (flow_slug, run_id, step_slug, status, remaining_tasks, remaining_deps, initial_tasks,
         created_at, started_at, completed_at, failed_at, cancelled_at, error_message)
       select $1::text, r.run_id, s.step_slug, x.status,
              case x.status when 'completed' then 0 else 1 end,
              0, 1, r.t0, r.t0 + s.step_index * interval '10 ms',
              case when x.status = 'completed' then r.t0 + (s.step_index + 1) * interval '10 ms' end,
              case when x.status = 'failed' then r.t0 + (s.step_index + 1) * interval '10 ms' end,
              case when x.status = 'cancelled' then r.t0 + interval '60 ms' end,
              case when x.status = 'failed' then 'seeded failure' end
         from seed_runs r
         join pgflow.steps s on s.flow_slug = $1::text
         cross join lateral (select case when r.status = 'completed' or s.step_index < $2::int - 1 then 'completed' else r.status end as status) x`,
      [flow, options.stepsPerFlow],
    );
    const archive = options.archive ? `pgmq."a_${flow.toLowerCase()}"` : null;
    const insertTasks = `
      insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id, status, attempts_count, output, error_message,
        queued_at, started_at, completed_at, failed_at, cancelled_at)
      select st.flow_slug, st.run_id, st.step_slug, 0, nextval(pg_get_serial_sequence($1::text, 'msg_id')), st.status, 1,
             case when st.status = 'completed' then '{"ok": true}'::jsonb end, st.error_message,
             st.started_at, st.started_at, st.completed_at, st.failed_at, st.cancelled_at
        from pgflow.step_states st
       where st.run_id in (select run_id from seed_runs)
      returning flow_slug, run_id, step_slug, task_index, message_id, queued_at, coalesce(completed_at, failed_at, cancelled_at) as finished_at`;
    if (archive) {
      await client.query(
        `with tasks as (${insertTasks})
         insert into ${archive} (msg_id, read_ct, enqueued_at, archived_at, vt, message)
         select t.message_id, 1, t.queued_at, t.finished_at, t.finished_at + interval '32 seconds',
                jsonb_build_object('flow_slug', t.flow_slug, 'run_id', t.run_id, 'step_slug', t.step_slug, 'task_index', t.task_index)
           from tasks t where t.finished_at is not null`,
        [`pgmq.q_${flow.toLowerCase()}`],
      );
    } else {
      await client.query(`with tasks as (${insertTasks}) select count(*) from tasks`, [`pgmq.q_${flow.toLowerCase()}`]);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}

/** Creates the flows and their runs, then VACUUM ANALYZE (as autovacuum would have by then). */
export async function seedDashboardData(client: pg.ClientBase, options: SeedOptions, log: (line: string) => void = () => {}): Promise<void> {
  await defineFlows(client, options);
  const perFlow = Math.ceil(options.runs / options.flows);
  for (let flow = 0; flow < options.flows; flow++) {
    const runs = Math.min(perFlow, options.runs - flow * perFlow);
    for (let first = 1; first <= runs; first += CHUNK) {
      await seedChunk(client, options, seedFlowSlug(flow), first, Math.min(CHUNK, runs - first + 1), runs);
    }
    log(`  ${seedFlowSlug(flow)}: ${runs} runs`);
  }
  await client.query('vacuum analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
  if (options.archive) {
    for (let flow = 0; flow < options.flows; flow++) await client.query(`vacuum analyze pgmq."a_${seedFlowSlug(flow)}"`);
  }
}
