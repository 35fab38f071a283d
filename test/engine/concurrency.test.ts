/**
 * Concurrency: 8 workers on separate connections race over 500 runs of a
 * diamond flow and 200 runs of a 20-wide fan-out while the runs are being
 * started. Every task must be completed exactly once, every run completed, with
 * no deadlock and no error; and with random fail_task calls every run ends
 * completed or failed with counts that add up. Half the workers use
 * claim_tasks + complete_task, the other half pgmq.read + start_tasks +
 * complete_tasks (through the typed wrappers).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { pgflowSql } from '../../src/core/sql-api.js';
import { defineFlow, sleep, uniqueSlug, type StepSpec, type TaskRecord } from './support.js';

const db = useTestDatabase();

const WORKERS = 8;
const DIAMOND_RUNS = 500;
const FANOUT_RUNS = 200;
const FANOUT_WIDTH = 20;

interface RaceFlow {
  slug: string;
  runs: number;
  /** Direct dependencies of each step. */
  deps: Record<string, string[]>;
}

function diamond(slug: string): RaceFlow {
  return { slug, runs: DIAMOND_RUNS, deps: { start: [], branch_a: ['start'], branch_b: ['start'], join: ['branch_a', 'branch_b'] } };
}

function fanout(slug: string): RaceFlow {
  const branches = Array.from({ length: FANOUT_WIDTH }, (_, i) => `w${String(i + 1).padStart(2, '0')}`);
  return { slug, runs: FANOUT_RUNS, deps: { root: [], ...Object.fromEntries(branches.map((b) => [b, ['root']])), merge: branches } };
}

async function install(flow: RaceFlow, options: { maxAttempts: number; baseDelay: number }) {
  const steps: StepSpec[] = Object.entries(flow.deps).map(([slug, deps]) => ({ slug, deps }));
  await defineFlow(db, flow.slug, { ...options, steps });
}

/** A small deterministic random source per worker, so a failing race can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

interface Tally {
  starts: Map<string, number>;
  completions: Map<string, number>;
  failures: Map<string, number>;
  /** complete/fail calls that returned no row: run id of each. */
  noRow: string[];
  errors: string[];
  inputProblems: string[];
  startedRuns: Map<string, string>;
}

const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const keyOf = (runId: string, stepSlug: string) => `${runId}/${stepSlug}`;

function checkInput(flow: RaceFlow, task: TaskRecord, tally: Tally) {
  const expected = ['run', ...flow.deps[task.step_slug]!].sort();
  const actual = Object.keys(task.input).sort();
  const n = (task.input.run as { n?: number }).n;
  const consistent = flow.deps[task.step_slug]!.every((dep) => {
    const output = task.input[dep] as { step?: string; n?: number } | undefined;
    return output?.step === dep && output.n === n;
  });
  if (JSON.stringify(expected) !== JSON.stringify(actual) || !consistent || typeof n !== 'number') {
    tally.inputProblems.push(`${task.step_slug}: ${JSON.stringify(task.input).slice(0, 200)}`);
  }
}

interface RaceOptions {
  failRate: number;
  seed: number;
}

async function race(flows: RaceFlow[], options: RaceOptions): Promise<Tally> {
  const tally: Tally = { starts: new Map(), completions: new Map(), failures: new Map(), noRow: [], errors: [], inputProblems: [], startedRuns: new Map() };
  const clients = await Promise.all(Array.from({ length: WORKERS + 1 }, () => db.connect()));
  const starterClient = clients.pop()!;
  const state = { stop: false, starting: true };
  const deadline = Date.now() + 90_000;

  const starter = (async () => {
    try {
      const batch = 25;
      const cursors = flows.map(() => 0);
      while (cursors.some((c, i) => c < flows[i]!.runs)) {
        for (const [i, flow] of flows.entries()) {
          const from = cursors[i]!;
          if (from >= flow.runs) continue;
          const to = Math.min(flow.runs, from + batch);
          const { rows } = await starterClient.query<{ run_id: string }>(
            `select (pgflow.start_flow($1::text, jsonb_build_object('n', g))).run_id from generate_series($2::int, $3::int) as g`,
            [flow.slug, from + 1, to],
          );
          for (const row of rows) tally.startedRuns.set(row.run_id, flow.slug);
          cursors[i] = to;
        }
      }
    } catch (error) {
      tally.errors.push(`starter: ${(error as Error).message}`);
      state.stop = true;
    } finally {
      state.starting = false;
    }
  })();

  const worker = async (index: number, client: pg.Client) => {
    const workerId = randomUUID();
    const sql = pgflowSql(client);
    const rand = random(options.seed * 100 + index + 1);
    const batched = index % 2 === 1;
    let turn = index;
    try {
      while (!state.stop) {
        const flow = flows[turn % flows.length]!;
        turn += 1;
        let tasks: TaskRecord[];
        if (batched) {
          const { rows: messages } = await client.query<{ msg_id: string }>(`select msg_id from pgmq.read($1, 30, 10)`, [flow.slug]);
          tasks =
            messages.length === 0
              ? []
              : (
                  await client.query<TaskRecord>(`select * from pgflow.start_tasks($1, $2::bigint[], $3::uuid)`, [
                    flow.slug,
                    messages.map((m) => m.msg_id),
                    workerId,
                  ])
                ).rows;
        } else {
          tasks = (await client.query<TaskRecord>(`select * from pgflow.claim_tasks($1, $2::uuid, 10)`, [flow.slug, workerId])).rows;
        }
        if (tasks.length === 0) {
          await sleep(5);
          continue;
        }
        const completions: TaskRecord[] = [];
        for (const task of tasks) {
          bump(tally.starts, keyOf(task.run_id, task.step_slug));
          checkInput(flow, task, tally);
          if (rand() < options.failRate) {
            const { rows } = await client.query(`select * from pgflow.fail_task($1::uuid, $2::text, $3::int, $4::text)`, [
              task.run_id,
              task.step_slug,
              task.task_index,
              `random failure of ${task.step_slug}`,
            ]);
            if (rows.length === 1) bump(tally.failures, keyOf(task.run_id, task.step_slug));
            else tally.noRow.push(task.run_id);
          } else {
            completions.push(task);
          }
        }
        const output = (task: TaskRecord) => ({ step: task.step_slug, n: (task.input.run as { n: number }).n });
        if (batched) {
          const done = await sql.completeTasks(completions.map((task) => ({ runId: task.run_id, stepSlug: task.step_slug, taskIndex: task.task_index, output: output(task) })));
          for (const row of done) bump(tally.completions, keyOf(row.runId, row.stepSlug));
          for (const task of completions) if (!done.some((row) => row.runId === task.run_id && row.stepSlug === task.step_slug)) tally.noRow.push(task.run_id);
        } else {
          for (const task of completions) {
            const { rows } = await client.query(`select * from pgflow.complete_task($1::uuid, $2::text, $3::int, $4::jsonb)`, [
              task.run_id,
              task.step_slug,
              task.task_index,
              JSON.stringify(output(task)),
            ]);
            if (rows.length === 1) bump(tally.completions, keyOf(task.run_id, task.step_slug));
            else tally.noRow.push(task.run_id);
          }
        }
      }
    } catch (error) {
      tally.errors.push(`worker ${index}: ${(error as Error).message}`);
      state.stop = true;
    }
  };

  const workers = clients.map((client, index) => worker(index, client));
  const slugs = flows.map((f) => f.slug);
  const total = flows.reduce((sum, f) => sum + f.runs, 0);
  while (!state.stop) {
    await sleep(200);
    if (state.starting) continue;
    const [open] = await db.query<{ open: number; all: number }>(
      `select count(*) filter (where status = 'started')::int as open, count(*)::int as all from pgflow.runs where flow_slug = any($1)`,
      [slugs],
    );
    if (open!.all === total && open!.open === 0) state.stop = true;
    if (Date.now() > deadline) {
      tally.errors.push(`deadline: ${open!.open} runs still open`);
      state.stop = true;
    }
  }
  await Promise.all([starter, ...workers]);
  return tally;
}

interface FlowCounts {
  runs: number;
  completed_runs: number;
  failed_runs: number;
  tasks: number;
  completed_tasks: number;
  failed_tasks: number;
  open_tasks: number;
  attempts: number;
  single_attempt: number;
  queue_left: number;
  archived: number;
}

async function countsOf(flow: RaceFlow): Promise<FlowCounts> {
  const [row] = await db.query<FlowCounts>(
    `select
       (select count(*)::int from pgflow.runs where flow_slug = $1) as runs,
       (select count(*)::int from pgflow.runs where flow_slug = $1 and status = 'completed') as completed_runs,
       (select count(*)::int from pgflow.runs where flow_slug = $1 and status = 'failed') as failed_runs,
       (select count(*)::int from pgflow.step_tasks where flow_slug = $1) as tasks,
       (select count(*)::int from pgflow.step_tasks where flow_slug = $1 and status = 'completed') as completed_tasks,
       (select count(*)::int from pgflow.step_tasks where flow_slug = $1 and status = 'failed') as failed_tasks,
       (select count(*)::int from pgflow.step_tasks where flow_slug = $1 and status in ('queued', 'started')) as open_tasks,
       (select coalesce(sum(attempts_count), 0)::int from pgflow.step_tasks where flow_slug = $1) as attempts,
       (select count(*)::int from pgflow.step_tasks where flow_slug = $1 and attempts_count = 1) as single_attempt,
       (select count(*)::int from pgmq."q_${flow.slug}") as queue_left,
       (select count(*)::int from pgmq."a_${flow.slug}") as archived`,
    [flow.slug],
  );
  return row!;
}

const sum = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);

describe('8 workers racing', () => {
  it(
    `complete every task exactly once over ${DIAMOND_RUNS} diamond runs and ${FANOUT_RUNS} ${FANOUT_WIDTH}-wide fan-out runs`,
    async () => {
      const flows = [diamond(uniqueSlug('race_diamond')), fanout(uniqueSlug('race_fanout'))];
      for (const flow of flows) await install(flow, { maxAttempts: 3, baseDelay: 0 });
      const tally = await race(flows, { failRate: 0, seed: 1 });

      expect(tally.errors).toEqual([]);
      expect(tally.inputProblems).toEqual([]);
      expect(tally.noRow).toEqual([]);
      const totalTasks = flows.reduce((n, f) => n + f.runs * Object.keys(f.deps).length, 0);
      expect(tally.completions.size).toBe(totalTasks);
      expect([...tally.completions.values()].every((n) => n === 1)).toBe(true);
      expect(tally.starts.size).toBe(totalTasks);
      expect([...tally.starts.values()].every((n) => n === 1)).toBe(true);

      for (const flow of flows) {
        const tasks = flow.runs * Object.keys(flow.deps).length;
        expect(await countsOf(flow), flow.slug).toEqual({
          runs: flow.runs,
          completed_runs: flow.runs,
          failed_runs: 0,
          tasks,
          completed_tasks: tasks,
          failed_tasks: 0,
          open_tasks: 0,
          attempts: tasks,
          single_attempt: tasks,
          queue_left: 0,
          archived: tasks,
        });
        const leaf = flow.slug.includes('diamond') ? 'join' : 'merge';
        const [outputs] = await db.query<{ wrong: number; unfinished: number }>(
          `select
             count(*) filter (where output is distinct from jsonb_build_object($2::text, jsonb_build_object('step', $2::text, 'n', input -> 'n')))::int as wrong,
             count(*) filter (where remaining_steps <> 0 or completed_at is null)::int as unfinished
           from pgflow.runs where flow_slug = $1`,
          [flow.slug, leaf],
        );
        expect(outputs, flow.slug).toEqual({ wrong: 0, unfinished: 0 });
        const [states] = await db.query<{ not_completed: number }>(
          `select count(*) filter (where status <> 'completed' or remaining_tasks <> 0 or remaining_deps <> 0)::int as not_completed from pgflow.step_states where flow_slug = $1`,
          [flow.slug],
        );
        expect(states!.not_completed, flow.slug).toBe(0);
      }
    },
    120_000,
  );

  it(
    'with random fail_task calls, every run ends completed or failed and the counts add up',
    async () => {
      const flows = [diamond(uniqueSlug('chaos_diamond')), fanout(uniqueSlug('chaos_fanout'))];
      for (const flow of flows) await install(flow, { maxAttempts: 3, baseDelay: 0 });
      const tally = await race(flows, { failRate: 0.2, seed: 7 });

      expect(tally.errors).toEqual([]);
      expect(tally.inputProblems).toEqual([]);
      // A task is completed at most once.
      expect([...tally.completions.values()].every((n) => n === 1)).toBe(true);

      const runStatus = new Map(
        (await db.query<{ run_id: string; status: string }>(`select run_id, status from pgflow.runs where flow_slug = any($1)`, [flows.map((f) => f.slug)])).map((r) => [
          r.run_id,
          r.status,
        ]),
      );
      // Calls that changed nothing were all about runs that had failed (decision 7).
      expect(tally.noRow.filter((runId) => runStatus.get(runId) !== 'failed')).toEqual([]);

      let failedRuns = 0;
      let completedRuns = 0;
      for (const flow of flows) {
        const counts = await countsOf(flow);
        expect(counts.runs, flow.slug).toBe(flow.runs);
        expect(counts.completed_runs + counts.failed_runs, flow.slug).toBe(flow.runs);
        expect(counts.open_tasks, flow.slug).toBe(0);
        expect(counts.queue_left, flow.slug).toBe(0);
        // Every task row is either completed or failed, and every message that was sent is archived.
        expect(counts.completed_tasks + counts.failed_tasks, flow.slug).toBe(counts.tasks);
        expect(counts.archived, flow.slug).toBe(counts.tasks);
        failedRuns += counts.failed_runs;
        completedRuns += counts.completed_runs;

        const steps = Object.keys(flow.deps).length;
        const [completed] = await db.query<{ bad: number }>(
          `select count(*)::int as bad from pgflow.runs r
           where r.flow_slug = $1 and r.status = 'completed'
             and (r.remaining_steps <> 0
               or (select count(*) from pgflow.step_tasks t where t.run_id = r.run_id and t.status = 'completed') <> $2
               or (select count(*) from pgflow.step_states s where s.run_id = r.run_id and s.status = 'completed') <> $2)`,
          [flow.slug, steps],
        );
        expect(completed!.bad, `${flow.slug}: completed runs with unfinished steps`).toBe(0);

        // Each failed run: exactly one task failed with its own (third) failure; every other failed
        // task and step names that step; nothing is left queued or started.
        const failed = await db.query<{ run_id: string; culprits: number; culprit: string | null; misnamed: number; step_error: string | null; failed_at: Date | null }>(
          `select r.run_id, r.failed_at,
             (select count(*)::int from pgflow.step_tasks t where t.run_id = r.run_id and t.status = 'failed'
                and t.error_message like 'random failure of %' and t.attempts_count = 3) as culprits,
             (select t.step_slug from pgflow.step_tasks t where t.run_id = r.run_id and t.status = 'failed'
                and t.error_message like 'random failure of %' limit 1) as culprit,
             (select count(*)::int from pgflow.step_tasks t where t.run_id = r.run_id and t.status = 'failed'
                and t.error_message not like 'random failure of %'
                and position(coalesce((select c.step_slug from pgflow.step_tasks c where c.run_id = r.run_id and c.status = 'failed'
                       and c.error_message like 'random failure of %' limit 1), '?') in t.error_message) = 0) as misnamed,
             (select s.error_message from pgflow.step_states s join pgflow.step_tasks t on t.run_id = s.run_id and t.step_slug = s.step_slug
                where s.run_id = r.run_id and t.error_message like 'random failure of %' and t.status = 'failed' limit 1) as step_error
           from pgflow.runs r where r.flow_slug = $1 and r.status = 'failed'`,
          [flow.slug],
        );
        for (const run of failed) {
          expect(run, run.run_id).toMatchObject({ culprits: 1, misnamed: 0, step_error: `random failure of ${run.culprit}` });
          expect(run.failed_at).toBeInstanceOf(Date);
        }
      }
      expect(failedRuns).toBeGreaterThan(0);
      expect(completedRuns).toBeGreaterThan(0);

      // Every start counted an attempt, and no attempt was counted without a start.
      const [attempts] = await db.query<{ total: number }>(`select coalesce(sum(attempts_count), 0)::int as total from pgflow.step_tasks where flow_slug = any($1)`, [
        flows.map((f) => f.slug),
      ]);
      expect(attempts!.total).toBe(sum(tally.starts));
      const perTask = await db.query<{ run_id: string; step_slug: string; attempts_count: number; status: string }>(
        `select run_id, step_slug, attempts_count, status from pgflow.step_tasks where flow_slug = any($1)`,
        [flows.map((f) => f.slug)],
      );
      const mismatched = perTask.filter((t) => (tally.starts.get(keyOf(t.run_id, t.step_slug)) ?? 0) !== t.attempts_count);
      expect(mismatched).toEqual([]);
      // Completions returned by the engine are exactly the completed tasks.
      const completedKeys = perTask.filter((t) => t.status === 'completed').map((t) => keyOf(t.run_id, t.step_slug));
      expect(new Set(tally.completions.keys())).toEqual(new Set(completedKeys));
      // No task went past its attempts.
      expect(perTask.filter((t) => t.attempts_count > 3)).toEqual([]);
      // fail_task rows returned + completions + no-row calls = starts.
      expect(sum(tally.failures) + sum(tally.completions) + tally.noRow.length).toBe(sum(tally.starts));
    },
    120_000,
  );
});

describe('a run failing in a transaction that began before another worker started a task of the run', () => {
  it('fails the run and the other task (decision 8) instead of raising an error', async () => {
    const flow = await defineFlow(db, uniqueSlug('late_start'), { maxAttempts: 1, steps: ['a', 'b'] });
    const [failing, starting] = await Promise.all([db.connect(), db.connect()]);
    const { rows } = await failing!.query<{ run_id: string }>(`select * from pgflow.start_flow($1, '{}'::jsonb)`, [flow]);
    const runId = rows[0]!.run_id;
    const tasks = await db.query<{ step_slug: string; message_id: string }>(`select step_slug, message_id from pgflow.step_tasks where run_id = $1`, [runId]);
    const msg = (slug: string) => tasks.find((t) => t.step_slug === slug)!.message_id;
    await failing!.query(`select * from pgflow.start_tasks($1, array[$2::bigint], $3::uuid)`, [flow, msg('a'), randomUUID()]);
    // The failing worker's transaction begins (now() is fixed from here on) ...
    await failing!.query('begin');
    await failing!.query('select now()');
    await sleep(20);
    // ... another worker starts b and commits ...
    const started = await starting!.query(`select * from pgflow.start_tasks($1, array[$2::bigint], $3::uuid)`, [flow, msg('b'), randomUUID()]);
    expect(started.rowCount).toBe(1);
    // ... then a fails for good, which must fail b too.
    let error: unknown;
    try {
      await failing!.query(`select * from pgflow.fail_task($1, 'a', 0, 'a is broken')`, [runId]);
      await failing!.query('commit');
    } catch (caught) {
      error = caught;
      await failing!.query('rollback');
    }
    expect((error as Error | undefined)?.message).toBeUndefined();
    const states = await db.query<{ step_slug: string; status: string }>(`select step_slug, status from pgflow.step_tasks where run_id = $1 order by step_slug`, [runId]);
    expect(states).toEqual([
      { step_slug: 'a', status: 'failed' },
      { step_slug: 'b', status: 'failed' },
    ]);
    expect((await db.query(`select status from pgflow.runs where run_id = $1`, [runId]))[0]).toEqual({ status: 'failed' });
  });
});

describe('racing on one task', () => {
  it('8 connections starting the same message: exactly one starts it', async () => {
    const flow = await defineFlow(db, uniqueSlug('same_start'), { steps: ['a'] });
    const clients = await Promise.all(Array.from({ length: 8 }, () => db.connect()));
    for (let round = 0; round < 10; round += 1) {
      const { rows } = await clients[0]!.query<{ run_id: string }>(`select * from pgflow.start_flow($1, '{}'::jsonb)`, [flow]);
      const [task] = await db.query<{ message_id: string }>(`select message_id from pgflow.step_tasks where run_id = $1`, [rows[0]!.run_id]);
      const results = await Promise.all(
        clients.map((client) => client.query(`select * from pgflow.start_tasks($1, array[$2::bigint], $3::uuid)`, [flow, task!.message_id, randomUUID()])),
      );
      expect(results.map((r) => r.rowCount).sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
      const [stored] = await db.query(`select attempts_count from pgflow.step_tasks where run_id = $1`, [rows[0]!.run_id]);
      expect(stored).toEqual({ attempts_count: 1 });
    }
  });

  it('8 connections completing the same task: exactly one completes it, and its dependents start once', async () => {
    const flow = await defineFlow(db, uniqueSlug('same_complete'), { steps: ['a', { slug: 'b', deps: ['a'] }] });
    const clients = await Promise.all(Array.from({ length: 8 }, () => db.connect()));
    for (let round = 0; round < 10; round += 1) {
      const { rows } = await clients[0]!.query<{ run_id: string }>(`select * from pgflow.start_flow($1, '{}'::jsonb)`, [flow]);
      const runId = rows[0]!.run_id;
      await clients[0]!.query(`select * from pgflow.claim_tasks($1, $2::uuid, 10)`, [flow, randomUUID()]);
      const results = await Promise.all(
        clients.map((client, i) => client.query(`select * from pgflow.complete_task($1, 'a', 0, $2::jsonb)`, [runId, JSON.stringify({ by: i })])),
      );
      expect(results.map((r) => r.rowCount).sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
      const winner = results.findIndex((r) => r.rowCount === 1);
      const [task] = await db.query(`select output from pgflow.step_tasks where run_id = $1 and step_slug = 'a'`, [runId]);
      expect(task).toEqual({ output: { by: winner } });
      const [b] = await db.query(`select count(*)::int as n from pgflow.step_tasks where run_id = $1 and step_slug = 'b'`, [runId]);
      expect(b).toEqual({ n: 1 });
    }
  });

  it('the two branches of a diamond completing at once queue the join exactly once', async () => {
    const flow = await defineFlow(db, uniqueSlug('fan_in_race'), {
      steps: [{ slug: 'start' }, { slug: 'left', deps: ['start'] }, { slug: 'right', deps: ['start'] }, { slug: 'join', deps: ['left', 'right'] }],
    });
    const [left, right] = await Promise.all([db.connect(), db.connect()]);
    for (let round = 0; round < 20; round += 1) {
      const { rows } = await left!.query<{ run_id: string }>(`select * from pgflow.start_flow($1, '{}'::jsonb)`, [flow]);
      const runId = rows[0]!.run_id;
      await left!.query(`select * from pgflow.claim_tasks($1, $2::uuid, 10)`, [flow, randomUUID()]);
      await left!.query(`select * from pgflow.complete_task($1, 'start', 0, '{}'::jsonb)`, [runId]);
      await left!.query(`select * from pgflow.claim_tasks($1, $2::uuid, 10)`, [flow, randomUUID()]);
      await Promise.all([
        left!.query(`select * from pgflow.complete_task($1, 'left', 0, '"l"'::jsonb)`, [runId]),
        right!.query(`select * from pgflow.complete_task($1, 'right', 0, '"r"'::jsonb)`, [runId]),
      ]);
      const [join] = await db.query<{ tasks: number; status: string; remaining_deps: number }>(
        `select (select count(*)::int from pgflow.step_tasks where run_id = $1 and step_slug = 'join') as tasks, status, remaining_deps
         from pgflow.step_states where run_id = $1 and step_slug = 'join'`,
        [runId],
      );
      expect(join).toEqual({ tasks: 1, status: 'started', remaining_deps: 0 });
      const [claimed] = (await left!.query<TaskRecord>(`select * from pgflow.claim_tasks($1, $2::uuid, 10)`, [flow, randomUUID()])).rows;
      expect(claimed).toMatchObject({ step_slug: 'join', input: { run: {}, left: 'l', right: 'r' } });
      await left!.query(`select * from pgflow.complete_task($1, 'join', 0, 'true'::jsonb)`, [runId]);
    }
  });
});
