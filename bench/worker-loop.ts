/**
 * The drain phase: W workers, each on its own connection, run the worker
 * protocol until every task of the started runs is completed.
 *
 * - per-task: pgmq.read(flow, vt, N) → pgflow.start_tasks(flow, msg_ids, worker)
 *   → one pgflow.complete_task per task (the documented protocol).
 * - batched:  pgflow.claim_tasks(flow, worker, N) → pgflow.complete_tasks(arrays)
 *   for the whole batch.
 *
 * Every statement is its own transaction (autocommit) and is sent as a named
 * prepared statement, as a worker on postgres.js or node-postgres would.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { ProtocolName } from './config.js';
import { runLoops, secondsSince, sleep } from './connections.js';
import { handler } from './scenarios.js';

/** pgmq.read's visibility timeout in the per-task protocol; start_tasks then sets the task's own. */
const READ_VT_SECONDS = 2;

export interface DrainOptions {
  flowSlug: string;
  protocol: ProtocolName;
  batchSize: number;
  expectedTasks: number;
  idleMs: number;
  timeoutSeconds: number;
}

export interface DrainResult {
  seconds: number;
  /** Tasks whose completion call returned the completed row. */
  completed: number;
  /** Statements sent by the workers (each one a transaction). */
  calls: number;
  /** Polls that found nothing visible. */
  emptyPolls: number;
  /** Tasks a worker started but whose completion changed nothing. */
  notCompleted: number;
  /** Tasks whose completion was reported more than once. */
  duplicates: number;
  timedOut: boolean;
}

interface StartedTask {
  run_id: string;
  step_slug: string;
  task_index: number;
  input: unknown;
}

interface CompletedKey {
  run_id: string;
  step_slug: string;
  task_index: number;
}

class DrainState {
  completed = 0;
  calls = 0;
  emptyPolls = 0;
  notCompleted = 0;
  duplicates = 0;
  timedOut = false;
  failed = false;
  finishedAt = 0;
  private readonly seen = new Set<string>();

  constructor(
    private readonly expected: number,
    private readonly deadline: number,
  ) {}

  get done(): boolean {
    if (!this.timedOut && this.completed < this.expected && performance.now() > this.deadline) this.timedOut = true;
    return this.failed || this.timedOut || this.completed >= this.expected;
  }

  /** Records the rows a completion call returned against the tasks it was asked to complete. */
  record(asked: number, rows: CompletedKey[]): void {
    this.notCompleted += asked - rows.length;
    for (const row of rows) {
      const key = `${row.run_id}/${row.step_slug}/${row.task_index}`;
      if (this.seen.has(key)) this.duplicates++;
      else this.seen.add(key);
      this.completed++;
    }
    if (this.completed >= this.expected && this.finishedAt === 0) this.finishedAt = performance.now();
  }

  async idle(ms: number): Promise<void> {
    this.emptyPolls++;
    await sleep(ms);
  }
}

type WorkerLoop = (client: pg.Client, workerId: string, state: DrainState, options: DrainOptions) => Promise<void>;

const perTask: WorkerLoop = async (client, workerId, state, options) => {
  while (!state.done) {
    const messages = await client.query<{ msg_id: string }>({
      name: 'bench_read',
      text: 'select msg_id from pgmq.read($1::text, $2::integer, $3::integer)',
      values: [options.flowSlug, READ_VT_SECONDS, options.batchSize],
    });
    state.calls++;
    if (messages.rows.length === 0) {
      await state.idle(options.idleMs);
      continue;
    }
    const tasks = await client.query<StartedTask>({
      name: 'bench_start_tasks',
      text: 'select run_id, step_slug, task_index, input from pgflow.start_tasks($1::text, $2::bigint[], $3::uuid)',
      values: [options.flowSlug, messages.rows.map((message) => message.msg_id), workerId],
    });
    state.calls++;
    for (const task of tasks.rows) {
      const output = handler(task.step_slug, task.task_index);
      const done = await client.query<CompletedKey>({
        name: 'bench_complete_task',
        text: 'select run_id, step_slug, task_index from pgflow.complete_task($1::uuid, $2::text, $3::integer, $4::jsonb)',
        values: [task.run_id, task.step_slug, task.task_index, JSON.stringify(output)],
      });
      state.calls++;
      state.record(1, done.rows);
    }
  }
};

const batched: WorkerLoop = async (client, workerId, state, options) => {
  while (!state.done) {
    const tasks = await client.query<StartedTask>({
      name: 'bench_claim_tasks',
      text: 'select run_id, step_slug, task_index, input from pgflow.claim_tasks($1::text, $2::uuid, $3::integer)',
      values: [options.flowSlug, workerId, options.batchSize],
    });
    state.calls++;
    if (tasks.rows.length === 0) {
      await state.idle(options.idleMs);
      continue;
    }
    const outputs = tasks.rows.map((task) => JSON.stringify(handler(task.step_slug, task.task_index)));
    const done = await client.query<CompletedKey>({
      name: 'bench_complete_tasks',
      text: 'select run_id, step_slug, task_index from pgflow.complete_tasks($1::uuid[], $2::text[], $3::integer[], $4::jsonb[])',
      values: [tasks.rows.map((task) => task.run_id), tasks.rows.map((task) => task.step_slug), tasks.rows.map((task) => task.task_index), outputs],
    });
    state.calls++;
    state.record(tasks.rows.length, done.rows);
  }
};

const LOOPS: Partial<Record<ProtocolName, WorkerLoop>> = { 'per-task': perTask, batched };

/**
 * Registers one worker per connection (outside the measured time), as a real worker does at start-up, with the
 * plain INSERT of the reference, which pgflow 0.8.1 (compared with --upstream) understands too.
 */
export async function registerWorkers(clients: pg.Client[], flowSlug: string): Promise<string[]> {
  const ids = clients.map(() => randomUUID());
  await Promise.all(
    clients.map((client, i) =>
      client.query('insert into pgflow.workers (worker_id, queue_name, function_name) values ($1::uuid, $2::text, $3::text)', [
        ids[i],
        flowSlug,
        'pgflow-bench',
      ]),
    ),
  );
  return ids;
}

export async function drain(clients: pg.Client[], workerIds: string[], options: DrainOptions): Promise<DrainResult> {
  const began = performance.now();
  const state = new DrainState(options.expectedTasks, began + options.timeoutSeconds * 1000);
  const loop = LOOPS[options.protocol];
  if (!loop) throw new Error(`${options.protocol} is drained by startWorker (bench/worker-drain.ts), not by a SQL loop`);
  await runLoops(
    clients,
    (client, index) => loop(client, workerIds[index] ?? randomUUID(), state, options),
    () => {
      state.failed = true;
    },
  );
  const seconds = ((state.finishedAt || performance.now()) - began) / 1000;
  return {
    seconds: seconds > 0 ? seconds : secondsSince(began),
    completed: state.completed,
    calls: state.calls,
    emptyPolls: state.emptyPolls,
    notCompleted: state.notCompleted,
    duplicates: state.duplicates,
    timedOut: state.timedOut,
  };
}
