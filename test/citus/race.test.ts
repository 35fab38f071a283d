/**
 * Exactly once on Citus: 4 workers on their own coordinator connections race
 * over 500 diamond runs while they are being started. Two claim with
 * claim_tasks and complete one task at a time, two read with pgmq.read, start
 * with start_tasks and complete in batches with complete_tasks. Every task
 * is started once and completed once, every run completes, nothing is left in
 * the queue and no call fails.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { defineFlow, diamondSteps, sleep, uniqueSlug, type TaskRecord } from '../engine/support.js';
import { useCitusDatabase } from './support.js';

const db = useCitusDatabase();

const WORKERS = 4;
const RUNS = 500;

describe('4 workers × 500 runs on Citus', () => {
  it('start and complete every task exactly once', async () => {
    const flow = await defineFlow(db, uniqueSlug('race'), { maxAttempts: 3, baseDelay: 0, steps: diamondSteps });
    const starts = new Map<string, number>();
    const completions = new Map<string, number>();
    const errors: string[] = [];
    const wrongInputs: string[] = [];
    const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
    const clients = await Promise.all(Array.from({ length: WORKERS + 1 }, () => db.connect()));
    const starter = clients.pop()!;
    const state = { stop: false, started: 0 };
    const deadline = Date.now() + 150_000;

    const starting = (async () => {
      try {
        for (let from = 1; from <= RUNS; from += 25) {
          await starter.query(`select pgflow.start_flow($1::text, jsonb_build_object('n', g)) from generate_series($2::int, $3::int) g`, [
            flow,
            from,
            Math.min(RUNS, from + 24),
          ]);
          state.started = Math.min(RUNS, from + 24);
        }
      } catch (error) {
        errors.push(`starter: ${(error as Error).message}`);
        state.stop = true;
      }
    })();

    const worker = async (index: number, client: pg.Client) => {
      const workerId = randomUUID();
      const batched = index % 2 === 1;
      try {
        while (!state.stop) {
          let tasks: TaskRecord[];
          if (batched) {
            const { rows } = await client.query<{ msg_id: string }>(`select msg_id from pgmq.read($1, 30, 10)`, [flow]);
            tasks = rows.length === 0 ? [] : (await client.query<TaskRecord>(`select * from pgflow.start_tasks($1, $2::bigint[], $3::uuid)`, [flow, rows.map((r) => r.msg_id), workerId])).rows;
          } else {
            tasks = (await client.query<TaskRecord>(`select * from pgflow.claim_tasks($1, $2::uuid, 10)`, [flow, workerId])).rows;
          }
          if (tasks.length === 0) {
            await sleep(5);
            continue;
          }
          for (const task of tasks) {
            bump(starts, `${task.run_id}/${task.step_slug}`);
            const n = (task.input.run as { n: number }).n;
            const deps = diamondSteps.find((s) => s.slug === task.step_slug)!.deps ?? [];
            if (!deps.every((dep) => (task.input[dep] as { n?: number } | undefined)?.n === n)) wrongInputs.push(JSON.stringify(task.input));
          }
          const output = (task: TaskRecord) => JSON.stringify({ step: task.step_slug, n: (task.input.run as { n: number }).n });
          if (batched) {
            const { rows } = await client.query<{ run_id: string; step_slug: string }>(
              `select run_id, step_slug from pgflow.complete_tasks($1::uuid[], $2::text[], $3::int[], $4::text[]::jsonb[])`,
              [tasks.map((t) => t.run_id), tasks.map((t) => t.step_slug), tasks.map((t) => t.task_index), tasks.map(output)],
            );
            for (const row of rows) bump(completions, `${row.run_id}/${row.step_slug}`);
          } else {
            for (const task of tasks) {
              const { rows } = await client.query(`select * from pgflow.complete_task($1::uuid, $2::text, $3::int, $4::jsonb)`, [
                task.run_id,
                task.step_slug,
                task.task_index,
                output(task),
              ]);
              if (rows.length === 1) bump(completions, `${task.run_id}/${task.step_slug}`);
            }
          }
        }
      } catch (error) {
        errors.push(`worker ${index}: ${(error as Error).message}`);
        state.stop = true;
      }
    };

    const working = clients.map((client, index) => worker(index, client));
    while (!state.stop) {
      await sleep(250);
      if (state.started < RUNS) continue;
      const [open] = await db.query<{ open: number; all: number }>(
        `select count(*) filter (where status = 'started')::int as open, count(*)::int as all from pgflow.runs where flow_slug = $1`,
        [flow],
      );
      if (open!.all === RUNS && open!.open === 0) state.stop = true;
      if (Date.now() > deadline) {
        errors.push(`deadline: ${open!.open} runs still open`);
        state.stop = true;
      }
    }
    await Promise.all([starting, ...working]);

    expect(errors).toEqual([]);
    expect(wrongInputs).toEqual([]);
    const tasks = RUNS * diamondSteps.length;
    expect(starts.size).toBe(tasks);
    expect([...starts.values()].every((n) => n === 1)).toBe(true);
    expect(completions.size).toBe(tasks);
    expect([...completions.values()].every((n) => n === 1)).toBe(true);
    const [counts] = await db.query(
      `select
         (select count(*)::int from pgflow.runs where flow_slug = $1 and status = 'completed') as completed_runs,
         (select count(*)::int from pgflow.step_tasks where flow_slug = $1 and status = 'completed' and attempts_count = 1) as once,
         (select count(*)::int from pgmq."q_${flow}") as queue_left,
         (select count(*)::int from pgmq."a_${flow}") as archived,
         (select count(*)::int from pgflow.runs where flow_slug = $1
            and output is distinct from jsonb_build_object('join', jsonb_build_object('step', 'join', 'n', input -> 'n'))) as wrong_outputs`,
      [flow],
    );
    expect(counts).toEqual({ completed_runs: RUNS, once: tasks, queue_left: 0, archived: tasks, wrong_outputs: 0 });
  });
});
