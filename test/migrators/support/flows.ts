/**
 * Drives flows through the worker protocol of the SQL API (pgmq.read →
 * pgflow.start_tasks → pgflow.complete_task / fail_task), using only calls
 * every release supports, so the same code runs before and after an upgrade.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';

export type Queryable = Pick<pg.ClientBase, 'query'> | Pick<pg.Pool, 'query'>;

async function rows<R extends pg.QueryResultRow>(db: Queryable, text: string, values: unknown[] = []): Promise<R[]> {
  return (await db.query<R>(text, values)).rows;
}

/** A diamond: `fetch` → `left`, `right` → `join`; retries after 1 s. */
export async function defineDiamond(db: Queryable, flowSlug: string): Promise<void> {
  await db.query(`select pgflow.create_flow($1, max_attempts => 3, base_delay => 1, timeout => 30)`, [flowSlug]);
  await db.query(`select pgflow.add_step($1, 'fetch')`, [flowSlug]);
  await db.query(`select pgflow.add_step($1, 'left', array['fetch'])`, [flowSlug]);
  await db.query(`select pgflow.add_step($1, 'right', array['fetch'])`, [flowSlug]);
  await db.query(`select pgflow.add_step($1, 'join', array['left', 'right'])`, [flowSlug]);
}

export async function startRun(db: Queryable, flowSlug: string, input: Record<string, unknown>): Promise<string> {
  const [run] = await rows<{ run_id: string }>(db, `select run_id from pgflow.start_flow($1, $2::jsonb)`, [flowSlug, JSON.stringify(input)]);
  return run!.run_id;
}

export interface StartedTask {
  run_id: string;
  step_slug: string;
  task_index: number;
  input: Record<string, unknown>;
  msg_id: string;
}

export async function registerWorker(db: Queryable, flowSlug: string): Promise<string> {
  const workerId = randomUUID();
  await db.query(`select pgflow.register_worker($1::uuid, $2, 'migrators-test')`, [workerId, flowSlug]);
  return workerId;
}

/** Reads up to `qty` visible messages of the flow and starts their tasks. */
export async function startVisibleTasks(db: Queryable, flowSlug: string, workerId: string, qty = 10): Promise<StartedTask[]> {
  const messages = await rows<{ msg_id: string }>(db, `select msg_id from pgmq.read($1, 30, $2)`, [flowSlug, qty]);
  if (messages.length === 0) return [];
  return rows<StartedTask>(db, `select * from pgflow.start_tasks($1, $2::bigint[], $3::uuid)`, [flowSlug, messages.map((message) => message.msg_id), workerId]);
}

/** What the test handlers return: which step ran and which inputs it saw. */
export const outputFor = (task: Pick<StartedTask, 'step_slug' | 'input'>) => ({ step: task.step_slug, saw: Object.keys(task.input).sort() });

export async function completeTask(db: Queryable, task: StartedTask): Promise<void> {
  await db.query(`select * from pgflow.complete_task($1::uuid, $2, $3, $4::jsonb)`, [task.run_id, task.step_slug, task.task_index, JSON.stringify(outputFor(task))]);
}

export async function failTask(db: Queryable, task: StartedTask, message: string): Promise<void> {
  await db.query(`select * from pgflow.fail_task($1::uuid, $2, $3, $4)`, [task.run_id, task.step_slug, task.task_index, message]);
}

/** Works the flow's queue until every given run has finished (or the deadline passes). */
export async function workUntilFinished(db: Queryable, flowSlug: string, runIds: readonly string[], deadlineMs = 20_000): Promise<void> {
  const workerId = await registerWorker(db, flowSlug);
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const [open] = await rows<{ count: number }>(db, `select count(*)::int as count from pgflow.runs where run_id = any($1::uuid[]) and status = 'started'`, [runIds]);
    if (open!.count === 0) return;
    if (Date.now() > deadline) throw new Error(`runs still open after ${deadlineMs} ms`);
    const tasks = await startVisibleTasks(db, flowSlug, workerId);
    for (const task of tasks) await completeTask(db, task);
    if (tasks.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The output a diamond run ends with when every handler returns `outputFor`. */
export const diamondOutput = { join: { step: 'join', saw: ['left', 'right', 'run'] } };

export async function runStates(db: Queryable, runIds: readonly string[]): Promise<{ run_id: string; status: string; output: unknown }[]> {
  return rows(db, `select run_id, status, output from pgflow.runs where run_id = any($1::uuid[]) order by started_at, run_id`, [runIds]);
}
