/**
 * Typed wrappers for the engine's SQL functions. One implementation for
 * every driver: it speaks through a `SqlExecutor` (see ./connection.ts), so
 * `pgflowSql(db)` works with pg, postgres.js, Drizzle and Kysely alike.
 *
 * Parameters are sent as text and cast in SQL, so every driver encodes them
 * the same way; JSON values are serialised here.
 */
import { toExecutor, type PgflowConnection, type SqlExecutor } from './connection.js';
import { toClaimedTask, toFlow, toQueueMessage, toRun, toSchedule, toStep, toStepTask, toStepTaskRecord, toWorker } from './rows.js';
import type {
  ClaimedTask,
  FlowRecord,
  Json,
  QueueMessage,
  Run,
  Schedule,
  SkipMode,
  RunWithStates,
  StepRecord,
  StepTask,
  StepTaskRecord,
  StepType,
  TaskMessage,
  Worker,
} from './types.js';

/** JSON text for a `::text::jsonb` parameter; `undefined` and `null` both become SQL NULL. */
const jsonText = (value: unknown): string | null => (value === undefined || value === null ? null : JSON.stringify(value));

export interface FlowOptions {
  maxAttempts?: number;
  baseDelay?: number;
  timeout?: number;
}

export interface StepOptions extends FlowOptions {
  /** Seconds to wait before the step's task becomes visible once the step is ready. */
  startDelay?: number;
}

/** When a step runs (see `add_step`): patterns checked with `@>` against the step's input. */
export interface StepCondition {
  /** Run only when the input contains this JSON (required_input_pattern). */
  requiredInputPattern?: { [key: string]: Json };
  /** Run only when the input does not contain this JSON (forbidden_input_pattern). */
  forbiddenInputPattern?: { [key: string]: Json };
  /** When the condition is not met: skip the step (default), skip it and its dependents, or fail the run. */
  whenUnmet?: SkipMode;
  /** When a task has failed its last attempt: fail the run (default), or skip the step (and its dependents). */
  whenExhausted?: SkipMode;
}

/** How a run is started: with a chosen id, or idempotently with a key. */
export interface StartOptions {
  runId?: string;
  /** A second start of the flow with the same key returns the first run and creates nothing. */
  idempotencyKey?: string;
}

const startOptions = (options: string | StartOptions | undefined): StartOptions => (typeof options === 'string' ? { runId: options } : (options ?? {}));

/** What one pgflow.prune_batch call deleted. */
export interface PruneCounts {
  prunedRuns: number;
  prunedStepStates: number;
  prunedStepTasks: number;
  prunedMessages: number;
}

export interface TaskCompletion {
  runId: string;
  stepSlug: string;
  taskIndex?: number;
  output: unknown;
}

export interface TaskFailure {
  runId: string;
  stepSlug: string;
  taskIndex?: number;
  errorMessage: string;
}

export class PgflowSql {
  readonly executor: SqlExecutor;

  constructor(db: PgflowConnection) {
    this.executor = toExecutor(db);
  }

  private async one<R>(text: string, values: unknown[], map: (row: Record<string, unknown>) => R): Promise<R> {
    const [row] = await this.executor.query<Record<string, unknown>>(text, values);
    if (!row) throw new Error(`pgflow-orm: expected a row from: ${text}`);
    return map(row);
  }

  private async many<R>(text: string, values: unknown[], map: (row: Record<string, unknown>) => R): Promise<R[]> {
    return (await this.executor.query<Record<string, unknown>>(text, values)).map(map);
  }

  /** The pgflow-orm release installed in the database. */
  async version(): Promise<string> {
    return this.one('select pgflow.version() as version', [], (row) => row.version as string);
  }

  async isValidSlug(slug: string): Promise<boolean> {
    return this.one('select pgflow.is_valid_slug($1::text) as valid', [slug], (row) => row.valid as boolean);
  }

  async calculateRetryDelay(baseDelay: number, attemptsCount: number): Promise<number> {
    return this.one('select pgflow.calculate_retry_delay($1::numeric, $2::integer) as delay', [baseDelay, attemptsCount], (row) => row.delay as number);
  }

  /** Creates the flow, or updates the options passed for an existing one. */
  async createFlow(flowSlug: string, options: FlowOptions = {}): Promise<FlowRecord> {
    return this.one(
      'select * from pgflow.create_flow(flow_slug => $1::text, max_attempts => $2::integer, base_delay => $3::integer, timeout => $4::integer)',
      [flowSlug, options.maxAttempts ?? null, options.baseDelay ?? null, options.timeout ?? null],
      toFlow,
    );
  }

  async addStep(
    flowSlug: string,
    stepSlug: string,
    options: StepOptions & StepCondition & { dependsOn?: readonly string[]; stepType?: StepType } = {},
  ): Promise<StepRecord> {
    return this.one(
      `select * from pgflow.add_step(
         flow_slug => $1::text, step_slug => $2::text, deps_slugs => $3::text[],
         max_attempts => $4::integer, base_delay => $5::integer, timeout => $6::integer,
         start_delay => $7::integer, step_type => $8::text,
         required_input_pattern => $9::text::jsonb, forbidden_input_pattern => $10::text::jsonb,
         when_unmet => $11::text, when_exhausted => $12::text)`,
      [
        flowSlug,
        stepSlug,
        [...(options.dependsOn ?? [])],
        options.maxAttempts ?? null,
        options.baseDelay ?? null,
        options.timeout ?? null,
        options.startDelay ?? null,
        options.stepType ?? 'single',
        jsonText(options.requiredInputPattern),
        jsonText(options.forbiddenInputPattern),
        options.whenUnmet ?? null,
        options.whenExhausted ?? null,
      ],
      toStep,
    );
  }

  /**
   * Starts a run; `input` must be a JSON object, or a JSON array for a flow with a root map step.
   * The third argument is the run's id, or options: `{ runId }`, or `{ idempotencyKey }` — a second
   * start of the flow with the same key returns the first run and creates nothing.
   */
  async startFlow(flowSlug: string, input: { [key: string]: unknown } | readonly unknown[], options?: string | StartOptions): Promise<Run> {
    const { runId, idempotencyKey } = startOptions(options);
    return this.one(
      'select * from pgflow.start_flow(flow_slug => $1::text, input => $2::text::jsonb, run_id => $3::uuid, idempotency_key => $4::text)',
      [flowSlug, jsonText(input), runId ?? null, idempotencyKey ?? null],
      toRun,
    );
  }

  async startFlowWithStates(flowSlug: string, input: { [key: string]: unknown } | readonly unknown[], options?: string | StartOptions): Promise<RunWithStates> {
    const { runId, idempotencyKey } = startOptions(options);
    return this.one(
      'select pgflow.start_flow_with_states(flow_slug => $1::text, input => $2::text::jsonb, run_id => $3::uuid, idempotency_key => $4::text) as state',
      [flowSlug, jsonText(input), runId ?? null, idempotencyKey ?? null],
      (row) => row.state as RunWithStates,
    );
  }

  /** Cancels a started run (see `pgflow.cancel_run`); null when it had already finished. */
  async cancelRun(runId: string, reason?: string): Promise<Run | null> {
    const [run] = await this.many('select * from pgflow.cancel_run($1::uuid, $2::text)', [runId, reason ?? null], toRun);
    return run ?? null;
  }

  /** Starts a failed or cancelled run again from where it stopped (see `pgflow.retry_run`); null when there was nothing to retry. */
  async retryRun(runId: string): Promise<Run | null> {
    const [run] = await this.many('select * from pgflow.retry_run($1::uuid)', [runId], toRun);
    return run ?? null;
  }

  /** Pauses a flow: workers start none of its tasks until `resumeFlow`. */
  async pauseFlow(flowSlug: string): Promise<FlowRecord> {
    return this.one('select * from pgflow.pause_flow($1::text)', [flowSlug], toFlow);
  }

  async resumeFlow(flowSlug: string): Promise<FlowRecord> {
    return this.one('select * from pgflow.resume_flow($1::text)', [flowSlug], toFlow);
  }

  /** Starts the flow on a cron schedule (five fields, read in `timezone`); replaces a schedule of that name. */
  async scheduleFlow(flowSlug: string, scheduleName: string, cron: string, input: Json = {}, timezone = 'UTC'): Promise<Schedule> {
    return this.one(
      'select * from pgflow.schedule_flow($1::text, $2::text, $3::text, $4::text::jsonb, $5::text)',
      [flowSlug, scheduleName, cron, jsonText(input), timezone],
      toSchedule,
    );
  }

  /** Removes a schedule; false when there was none of that name. */
  async unscheduleFlow(flowSlug: string, scheduleName: string): Promise<boolean> {
    return this.one('select pgflow.unschedule_flow($1::text, $2::text) as removed', [flowSlug, scheduleName], (row) => row.removed as boolean);
  }

  /** Starts the run of one tick of a schedule; null when that tick has already fired (here or elsewhere). */
  async fireSchedule(flowSlug: string, scheduleName: string, tick: Date): Promise<string | null> {
    return this.one('select pgflow.fire_schedule($1::text, $2::text, $3::timestamptz) as run_id', [flowSlug, scheduleName, tick.toISOString()], (row) => (row.run_id ?? null) as string | null);
  }

  /** What is wrong with a cron expression, or null when the engine accepts it. */
  async cronProblem(cron: string): Promise<string | null> {
    return this.one('select pgflow.cron_problem($1::text) as problem', [cron], (row) => (row.problem ?? null) as string | null);
  }

  /**
   * Deletes one batch of finished runs older than `olderThan` (a PostgreSQL interval, e.g. '30 days')
   * with everything that belongs to them; call again until `prunedRuns` is 0.
   */
  async pruneBatch(olderThan: string, batchSize = 10_000): Promise<PruneCounts> {
    return this.one('select * from pgflow.prune_batch($1::interval, $2::integer)', [olderThan, batchSize], (row) => ({
      prunedRuns: Number(row.pruned_runs),
      prunedStepStates: Number(row.pruned_step_states),
      prunedStepTasks: Number(row.pruned_step_tasks),
      prunedMessages: Number(row.pruned_messages),
    }));
  }

  /** The run and its step states, or null when there is no such run. */
  async getRunWithStates(runId: string): Promise<RunWithStates | null> {
    return this.one('select pgflow.get_run_with_states($1::uuid) as state', [runId], (row) => (row.state ?? null) as RunWithStates | null);
  }

  /** `pgmq.read`: takes up to `qty` visible messages of the flow's queue, hidden for `visibilityTimeout` seconds. */
  async readMessages(flowSlug: string, visibilityTimeout: number, qty: number): Promise<QueueMessage<TaskMessage>[]> {
    return this.many('select * from pgmq.read($1::text, $2::integer, $3::integer)', [flowSlug, visibilityTimeout, qty], toQueueMessage<TaskMessage>);
  }

  /** `pgmq.read_with_poll`: like `readMessages`, waiting up to `maxPollSeconds` for a message. */
  async readWithPoll(
    flowSlug: string,
    visibilityTimeout: number,
    qty: number,
    maxPollSeconds = 5,
    pollIntervalMs = 100,
  ): Promise<QueueMessage<TaskMessage>[]> {
    return this.many(
      'select * from pgmq.read_with_poll($1::text, $2::integer, $3::integer, $4::integer, $5::integer)',
      [flowSlug, visibilityTimeout, qty, maxPollSeconds, pollIntervalMs],
      toQueueMessage<TaskMessage>,
    );
  }

  /** Starts the tasks behind messages read from the flow's queue and returns them with their input. */
  async startTasks<TInput = Record<string, Json>>(flowSlug: string, msgIds: readonly number[], workerId: string): Promise<StepTaskRecord<TInput>[]> {
    return this.many(
      'select * from pgflow.start_tasks(flow_slug => $1::text, msg_ids => $2::bigint[], worker_id => $3::uuid)',
      [flowSlug, msgIds.map(String), workerId],
      toStepTaskRecord<TInput>,
    );
  }

  /** Reads and starts up to `qty` tasks in one call (`pgmq.read` + `start_tasks`, one commit), with their attempt numbers. */
  async claimTasks<TInput = Record<string, Json>>(flowSlug: string, workerId: string, qty = 10): Promise<ClaimedTask<TInput>[]> {
    return this.many(
      'select * from pgflow.claim_tasks(flow_slug => $1::text, worker_id => $2::uuid, qty => $3::integer)',
      [flowSlug, workerId, qty],
      toClaimedTask<TInput>,
    );
  }

  /** Completes a started task; null when the task was not started or its run has failed. */
  async completeTask(completion: TaskCompletion): Promise<StepTask | null> {
    const [task] = await this.completeTasks([completion]);
    return task ?? null;
  }

  /** Completes many started tasks in one call; returns the ones that were completed. */
  async completeTasks(completions: readonly TaskCompletion[]): Promise<StepTask[]> {
    if (completions.length === 0) return [];
    return this.many(
      'select * from pgflow.complete_tasks($1::uuid[], $2::text[], $3::integer[], $4::text[]::jsonb[])',
      [
        completions.map((completion) => completion.runId),
        completions.map((completion) => completion.stepSlug),
        completions.map((completion) => completion.taskIndex ?? 0),
        completions.map((completion) => jsonText(completion.output)),
      ],
      toStepTask,
    );
  }

  /** Records a failed attempt: the task is retried after its backoff, or fails its run when no attempt is left. */
  async failTask(failure: TaskFailure): Promise<StepTask | null> {
    const [task] = await this.many(
      'select * from pgflow.fail_task(run_id => $1::uuid, step_slug => $2::text, task_index => $3::integer, error_message => $4::text)',
      [failure.runId, failure.stepSlug, failure.taskIndex ?? 0, failure.errorMessage],
      toStepTask,
    );
    return task ?? null;
  }

  async setVtBatch(queueName: string, msgIds: readonly number[], vtOffsets: readonly number[]): Promise<QueueMessage[]> {
    return this.many(
      'select * from pgflow.set_vt_batch($1::text, $2::bigint[], $3::integer[])',
      [queueName, msgIds.map(String), [...vtOffsets]],
      toQueueMessage,
    );
  }

  /** @deprecated Read with `readMessages` and call `startTasks`, or use `claimTasks`. */
  async pollForTasks<TInput = Record<string, Json>>(
    queueName: string,
    visibilityTimeout: number,
    qty: number,
    maxPollSeconds = 5,
    pollIntervalMs = 100,
  ): Promise<StepTaskRecord<TInput>[]> {
    return this.many(
      'select * from pgflow.poll_for_tasks($1::text, $2::integer, $3::integer, $4::integer, $5::integer)',
      [queueName, visibilityTimeout, qty, maxPollSeconds, pollIntervalMs],
      toStepTaskRecord<TInput>,
    );
  }

  async startReadySteps(runId: string): Promise<void> {
    await this.executor.query('select pgflow.start_ready_steps($1::uuid)', [runId]);
  }

  async maybeCompleteRun(runId: string): Promise<void> {
    await this.executor.query('select pgflow.maybe_complete_run($1::uuid)', [runId]);
  }

  async cascadeCompleteTasklessSteps(runId: string): Promise<number> {
    return this.one('select pgflow.cascade_complete_taskless_steps($1::uuid) as completed', [runId], (row) => row.completed as number);
  }

  /** Registers (or re-registers) a worker serving `queueName`. */
  async registerWorker(workerId: string, queueName: string, functionName: string): Promise<Worker> {
    return this.one('select * from pgflow.register_worker($1::uuid, $2::text, $3::text)', [workerId, queueName, functionName], toWorker);
  }

  async heartbeatWorker(workerId: string): Promise<void> {
    await this.executor.query('select pgflow.heartbeat_worker($1::uuid)', [workerId]);
  }

  async stopWorker(workerId: string): Promise<void> {
    await this.executor.query('select pgflow.stop_worker($1::uuid)', [workerId]);
  }
}

/** Typed access to the engine's SQL functions through any supported connection. */
export function pgflowSql(db: PgflowConnection): PgflowSql {
  return new PgflowSql(db);
}
