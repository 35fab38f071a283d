/**
 * Shared helpers for the engine tests. Everything goes through plain SQL, the
 * way a worker written in any language drives the engine: pgmq.read,
 * pgflow.start_tasks, pgflow.complete_task / pgflow.fail_task.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';

export type Row = Record<string, unknown>;

/** Anything that runs one statement and returns its rows (TestDatabase, or a wrapped pg.Client). */
export interface Db {
  query<R extends pg.QueryResultRow = Row>(text: string, values?: unknown[]): Promise<R[]>;
}

/** A dedicated connection seen as a `Db`. */
export function onClient(client: pg.ClientBase): Db {
  return {
    async query<R extends pg.QueryResultRow = Row>(text: string, values?: unknown[]) {
      return (await client.query<R>(text, values)).rows;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export type DbError = Error & { code?: string; detail?: string; hint?: string };

/** Runs `run` and returns the error it throws (fails the test when it does not throw). */
export async function errorOf(run: () => Promise<unknown>): Promise<DbError> {
  try {
    await run();
  } catch (error) {
    return error as DbError;
  }
  throw new Error('expected an error, but the call succeeded');
}

let counter = 0;
/** A slug unique within the test file (each test file has its own database). */
export function uniqueSlug(prefix = 'flow'): string {
  counter += 1;
  return `${prefix}_${counter}`;
}

export const newWorkerId = () => randomUUID();

export interface StepSpec {
  slug: string;
  deps?: string[];
  maxAttempts?: number;
  baseDelay?: number;
  timeout?: number;
  startDelay?: number;
  stepType?: 'single' | 'map';
  /** required_input_pattern: run only when the step's input contains this. */
  if?: Record<string, unknown>;
  /** forbidden_input_pattern: run only when the step's input does not contain this. */
  ifNot?: Record<string, unknown>;
  whenUnmet?: 'fail' | 'skip' | 'skip-cascade';
  whenExhausted?: 'fail' | 'skip' | 'skip-cascade';
}

export interface FlowSpec {
  maxAttempts?: number;
  baseDelay?: number;
  timeout?: number;
  steps: (StepSpec | string)[];
}

/** Creates a flow and its steps with named arguments; returns the flow slug. */
export async function defineFlow(db: Db, flowSlug: string, spec: FlowSpec): Promise<string> {
  await db.query(`select pgflow.create_flow(flow_slug => $1::text, max_attempts => $2::int, base_delay => $3::int, timeout => $4::int)`, [
    flowSlug,
    spec.maxAttempts ?? null,
    spec.baseDelay ?? null,
    spec.timeout ?? null,
  ]);
  for (const raw of spec.steps) {
    const step = typeof raw === 'string' ? { slug: raw } : raw;
    await db.query(
      `select pgflow.add_step(flow_slug => $1::text, step_slug => $2::text, deps_slugs => $3::text[],
         max_attempts => $4::int, base_delay => $5::int, timeout => $6::int, start_delay => $7::int, step_type => $8::text,
         required_input_pattern => $9::jsonb, forbidden_input_pattern => $10::jsonb, when_unmet => $11::text, when_exhausted => $12::text)`,
      [
        flowSlug,
        step.slug,
        step.deps ?? [],
        step.maxAttempts ?? null,
        step.baseDelay ?? null,
        step.timeout ?? null,
        step.startDelay ?? null,
        step.stepType ?? 'single',
        step.if ? JSON.stringify(step.if) : null,
        step.ifNot ? JSON.stringify(step.ifNot) : null,
        step.whenUnmet ?? null,
        step.whenExhausted ?? null,
      ],
    );
  }
  return flowSlug;
}

/** The reference's diamond: start → (branch_a, branch_b) → join. */
export const diamondSteps: StepSpec[] = [
  { slug: 'start' },
  { slug: 'branch_a', deps: ['start'] },
  { slug: 'branch_b', deps: ['start'] },
  { slug: 'join', deps: ['branch_a', 'branch_b'] },
];

export interface RunRow {
  run_id: string;
  flow_slug: string;
  status: string;
  input: unknown;
  output: unknown;
  remaining_steps: number;
  started_at: Date;
  completed_at: Date | null;
  failed_at: Date | null;
}

export interface StepStateRow {
  flow_slug: string;
  run_id: string;
  step_slug: string;
  status: string;
  remaining_tasks: number | null;
  remaining_deps: number;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  error_message: string | null;
  initial_tasks: number | null;
  skipped_at: Date | null;
  skip_reason: string | null;
}

export interface StepTaskRow {
  flow_slug: string;
  run_id: string;
  step_slug: string;
  message_id: string | null;
  task_index: number;
  status: string;
  attempts_count: number;
  error_message: string | null;
  output: unknown;
  queued_at: Date;
  completed_at: Date | null;
  failed_at: Date | null;
  started_at: Date | null;
  last_worker_id: string | null;
}

/** A row of pgflow.step_task_record, as start_tasks returns it. */
export interface TaskRecord {
  flow_slug: string;
  run_id: string;
  step_slug: string;
  input: any;
  msg_id: string;
  task_index: number;
}

/** A pgmq.message_record. */
export interface MessageRow {
  msg_id: string;
  read_ct: number;
  enqueued_at: Date;
  vt: Date;
  message: { flow_slug: string; run_id: string; step_slug: string; task_index: number };
  headers: unknown;
}

export async function startFlow(db: Db, flowSlug: string, input: unknown = {}): Promise<RunRow> {
  const [run] = await db.query<RunRow>(`select * from pgflow.start_flow($1::text, $2::jsonb)`, [flowSlug, JSON.stringify(input)]);
  if (!run) throw new Error(`start_flow(${flowSlug}) returned no row`);
  return run;
}

export const readMessages = (db: Db, flowSlug: string, vt = 30, qty = 10) =>
  db.query<MessageRow>(`select * from pgmq.read($1, $2, $3)`, [flowSlug, vt, qty]);

export const startTasks = (db: Db, flowSlug: string, msgIds: readonly (string | number)[], workerId: string) =>
  db.query<TaskRecord>(`select * from pgflow.start_tasks($1::text, $2::bigint[], $3::uuid)`, [flowSlug, msgIds.map(String), workerId]);

/**
 * Starts the task of one step of one run, as a worker that read its message
 * would (fails when the task has no visible message or does not start).
 */
export async function takeTask(db: Db, flowSlug: string, runId: string, stepSlug: string, workerId = newWorkerId()): Promise<TaskRecord> {
  const [task] = await db.query<StepTaskRow>(`select * from pgflow.step_tasks where run_id = $1 and step_slug = $2`, [runId, stepSlug]);
  if (!task?.message_id) throw new Error(`no task for ${stepSlug}`);
  const visible = await visibleIn(db, flowSlug, task.message_id);
  if (visible === null || visible > 0) throw new Error(`the message of ${stepSlug} is not visible (${visible})`);
  const [started] = await startTasks(db, flowSlug, [task.message_id], workerId);
  if (!started) throw new Error(`start_tasks did not start ${stepSlug}`);
  return started;
}

export const completeTask = (db: Db, runId: string, stepSlug: string, output: unknown, taskIndex = 0) =>
  db.query<StepTaskRow>(`select * from pgflow.complete_task($1::uuid, $2::text, $3::int, $4::jsonb)`, [
    runId,
    stepSlug,
    taskIndex,
    output === undefined ? null : JSON.stringify(output),
  ]);

export const failTask = (db: Db, runId: string, stepSlug: string, errorMessage: string, taskIndex = 0) =>
  db.query<StepTaskRow>(`select * from pgflow.fail_task($1::uuid, $2::text, $3::int, $4::text)`, [runId, stepSlug, taskIndex, errorMessage]);

export async function getRun(db: Db, runId: string): Promise<RunRow> {
  const [run] = await db.query<RunRow>(`select * from pgflow.runs where run_id = $1`, [runId]);
  if (!run) throw new Error(`no run ${runId}`);
  return run;
}

/** The run's step states by step slug. */
export async function stepStates(db: Db, runId: string): Promise<Record<string, StepStateRow>> {
  const rows = await db.query<StepStateRow>(`select * from pgflow.step_states where run_id = $1`, [runId]);
  return Object.fromEntries(rows.map((row) => [row.step_slug, row]));
}

/** The run's tasks by step slug (single steps: one task each). */
export async function stepTasks(db: Db, runId: string): Promise<Record<string, StepTaskRow>> {
  const rows = await db.query<StepTaskRow>(`select * from pgflow.step_tasks where run_id = $1 order by step_slug, task_index`, [runId]);
  return Object.fromEntries(rows.map((row) => [row.step_slug, row]));
}

export async function getTask(db: Db, runId: string, stepSlug: string): Promise<StepTaskRow> {
  const [task] = await db.query<StepTaskRow>(`select * from pgflow.step_tasks where run_id = $1 and step_slug = $2`, [runId, stepSlug]);
  if (!task) throw new Error(`no task for ${stepSlug}`);
  return task;
}

/** Messages still in the flow's queue table, with the seconds until each becomes visible. */
export async function queueRows(db: Db, flowSlug: string): Promise<(MessageRow & { visible_in: number })[]> {
  return db.query(
    `select *, extract(epoch from vt - clock_timestamp())::float8 as visible_in from pgmq.${queueTable(flowSlug, 'q')} order by msg_id`,
  );
}

/** Messages in the flow's archive table. */
export async function archiveRows(db: Db, flowSlug: string): Promise<(MessageRow & { archived_at: Date })[]> {
  return db.query(`select * from pgmq.${queueTable(flowSlug, 'a')} order by msg_id`);
}

/** pgmq's table for a queue (`q_<name>` / `a_<name>`, lower-cased), quoted. */
export function queueTable(flowSlug: string, prefix: 'q' | 'a'): string {
  return `"${prefix}_${flowSlug.toLowerCase()}"`;
}

/** Seconds until the message becomes visible (negative when visible), or null when it is not in the queue. */
export async function visibleIn(db: Db, flowSlug: string, msgId: string | number): Promise<number | null> {
  const [row] = await db.query<{ visible_in: number }>(
    `select extract(epoch from vt - clock_timestamp())::float8 as visible_in from pgmq.${queueTable(flowSlug, 'q')} where msg_id = $1`,
    [String(msgId)],
  );
  return row ? row.visible_in : null;
}

/** A task claimed by claim_tasks. */
export interface ClaimedTaskRow extends TaskRecord {
  attempts_count: number;
}

/**
 * Works the flow's queue as a batched worker would (claim_tasks, then one complete_tasks per batch;
 * fail_task for a handler that throws) until a claim finds nothing; returns the tasks it handled.
 */
export async function drain(
  db: Db,
  flowSlug: string,
  handler: (task: ClaimedTaskRow) => unknown = (task) => task.input,
  batchSize = 100,
): Promise<ClaimedTaskRow[]> {
  const workerId = newWorkerId();
  const handled: ClaimedTaskRow[] = [];
  for (;;) {
    const tasks = await db.query<ClaimedTaskRow>(`select * from pgflow.claim_tasks($1::text, $2::uuid, $3::int)`, [flowSlug, workerId, batchSize]);
    if (tasks.length === 0) return handled;
    const done: { task: ClaimedTaskRow; output: unknown }[] = [];
    for (const task of tasks) {
      handled.push(task);
      try {
        done.push({ task, output: handler(task) });
      } catch (error) {
        await failTask(db, task.run_id, task.step_slug, (error as Error).message, task.task_index);
      }
    }
    if (done.length > 0) {
      await db.query(`select pgflow.complete_tasks($1::uuid[], $2::text[], $3::int[], $4::text[]::jsonb[])`, [
        done.map(({ task }) => task.run_id),
        done.map(({ task }) => task.step_slug),
        done.map(({ task }) => task.task_index),
        done.map(({ output }) => (output === undefined ? null : JSON.stringify(output))),
      ]);
    }
  }
}
