/**
 * After a drain: proves from the tables that every run completed and every
 * task completed exactly once, and reads the runs' latency percentiles.
 */
import type pg from 'pg';
import type { Scenario } from './scenarios.js';
import type { DrainResult } from './worker-loop.js';

export interface Percentiles {
  p50: number;
  p95: number;
}

export interface Latency {
  /** run.completed_at − the moment the workers started draining (server clock). */
  sinceDrainStart: Percentiles;
  /** run.completed_at − started_at of its first task: how long a run took once a worker first touched it. */
  active: Percentiles;
}

export interface Verification {
  ok: boolean;
  problems: string[];
  latency: Latency;
}

interface Counts {
  runs: string;
  runs_completed: string;
  runs_with_output: string;
  states: string;
  states_completed: string;
  tasks: string;
  tasks_completed_once: string;
  queued_messages: string;
  archived_messages: string;
}

function queueTable(flowSlug: string, prefix: 'q' | 'a'): string {
  return `pgmq."${`${prefix}_${flowSlug}`.toLowerCase().replaceAll('"', '""')}"`;
}

export async function verifyCase(
  client: pg.Client,
  scenario: Scenario,
  runIds: string[],
  tasks: number,
  drainStartedAt: string,
  drained: DrainResult,
): Promise<Verification> {
  const runs = runIds.length;
  const states = runs * scenario.steps.length;
  const counts = (
    await client.query<Counts>(
      `with ids as (select unnest($1::uuid[]) as run_id)
      select
        (select count(*) from pgflow.runs r join ids using (run_id)) as runs,
        (select count(*) from pgflow.runs r join ids using (run_id)
          where r.status = 'completed' and r.remaining_steps = 0 and r.completed_at is not null) as runs_completed,
        (select count(*) from pgflow.runs r join ids using (run_id) where r.output ?& $2::text[]) as runs_with_output,
        (select count(*) from pgflow.step_states s join ids using (run_id)) as states,
        (select count(*) from pgflow.step_states s join ids using (run_id)
          where s.status = 'completed' and s.remaining_tasks = 0 and s.remaining_deps = 0) as states_completed,
        (select count(*) from pgflow.step_tasks t join ids using (run_id)) as tasks,
        (select count(*) from pgflow.step_tasks t join ids using (run_id)
          where t.status = 'completed' and t.attempts_count = 1 and t.output is not null) as tasks_completed_once,
        (select count(*) from ${queueTable(scenario.flowSlug, 'q')} m where (m.message->>'run_id')::uuid in (select run_id from ids)) as queued_messages,
        (select count(*) from ${queueTable(scenario.flowSlug, 'a')} m where (m.message->>'run_id')::uuid in (select run_id from ids)) as archived_messages`,
      [runIds, scenario.leaves],
    )
  ).rows[0];
  if (!counts) throw new Error('verification query returned no row');

  const problems: string[] = [];
  const expect = (what: string, actual: number | string, wanted: number) => {
    if (Number(actual) !== wanted) problems.push(`${what}: ${actual}, expected ${wanted}`);
  };
  expect('runs started', counts.runs, runs);
  expect('runs completed (remaining_steps = 0)', counts.runs_completed, runs);
  expect(`runs whose output holds ${scenario.leaves.join(', ')}`, counts.runs_with_output, runs);
  expect('step states', counts.states, states);
  expect('step states completed', counts.states_completed, states);
  expect('step tasks', counts.tasks, tasks);
  expect('step tasks completed in one attempt', counts.tasks_completed_once, tasks);
  expect('messages left in the queue', counts.queued_messages, 0);
  expect('messages archived', counts.archived_messages, tasks);
  expect('completions reported to the workers', drained.completed, tasks);
  expect('tasks completed twice (as seen by the workers)', drained.duplicates, 0);
  expect('started tasks whose completion changed nothing', drained.notCompleted, 0);
  if (drained.timedOut) problems.push('the workers gave up: the runs did not drain before --timeout');

  const latency = await readLatency(client, runIds, drainStartedAt);
  return { ok: problems.length === 0, problems, latency };
}

async function readLatency(client: pg.Client, runIds: string[], drainStartedAt: string): Promise<Latency> {
  const row = (
    await client.query<{ since_drain: number[] | null; active: number[] | null }>(
      `select
        percentile_cont(array[0.5, 0.95]) within group (order by extract(epoch from r.completed_at - $2::timestamptz)) as since_drain,
        percentile_cont(array[0.5, 0.95]) within group (order by extract(epoch from r.completed_at - f.first_started)) as active
      from pgflow.runs r
      cross join lateral (select min(t.started_at) as first_started from pgflow.step_tasks t where t.run_id = r.run_id) f
      where r.run_id = any($1::uuid[]) and r.completed_at is not null`,
      [runIds, drainStartedAt],
    )
  ).rows[0];
  const pair = (values: number[] | null | undefined): Percentiles => ({ p50: Number(values?.[0] ?? Number.NaN), p95: Number(values?.[1] ?? Number.NaN) });
  return { sinceDrainStart: pair(row?.since_drain), active: pair(row?.active) };
}
