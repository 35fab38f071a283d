/**
 * Typed wrappers for the engine's SQL functions. One implementation for
 * every driver: it speaks through a `SqlExecutor` (see ./connection.ts), so
 * `pgflowSql(db)` works with pg, postgres.js, Drizzle and Kysely alike.
 *
 * Parameters are sent as text and cast in SQL, so every driver encodes them
 * the same way; JSON values are serialised here. Arguments are checked
 * before the query (see ./arguments.ts): a malformed UUID, a quantity that is
 * NaN, fractional or below the engine's minimum, or JSON or an error message
 * holding a NUL character fails with a PgflowArgumentError naming the
 * argument and the value, and nothing is sent.
 */
import {
  checkArray,
  checkInteger,
  checkMessageId,
  checkNumber,
  checkOptionalInteger,
  checkOptionalUuid,
  checkText,
  checkTextParameters,
  checkUuid,
  describeValue,
  jsonParameter,
  PgflowArgumentError,
} from './arguments.js';
import { toExecutor, type PgflowConnection, type SqlExecutor } from './connection.js';
import { readQueueDepths, type QueueDepth } from './queue-depth.js';
import { toClaimedTask, toFlow, toQueueMessage, toRun, toSchedule, toStep, toStepTask, toStepTaskRecord, toWorker } from './rows.js';
import type {
  ClaimedTask,
  FlowRow,
  Json,
  QueueMessage,
  RunRow,
  ScheduleRow,
  SkipMode,
  RunWithStates,
  StepRow,
  StepTaskRow,
  StepTaskRecord,
  StepType,
  TaskMessage,
  WorkerRow,
} from './types.js';

const at = (method: string) => `pgflowSql.${method}`;
/** The engine function a statement calls, for errors about its parameters: `pgflowSql (pgflow.start_flow)`. */
const calledFunction = (text: string) => `pgflowSql (${/\bpg(?:flow|mq)\.\w+/.exec(text)?.[0] ?? 'query'})`;

/** The retry and timeout options, checked against the engine's minimums (see create_flow / add_step). */
function optionValues(method: string, options: StepOptions): { maxAttempts: number | null; baseDelay: number | null; timeout: number | null; startDelay: number | null } {
  return {
    maxAttempts: checkOptionalInteger(at(method), 'maxAttempts', options.maxAttempts, 0),
    baseDelay: checkOptionalInteger(at(method), 'baseDelay', options.baseDelay, 0),
    timeout: checkOptionalInteger(at(method), 'timeout', options.timeout, 1),
    startDelay: checkOptionalInteger(at(method), 'startDelay', options.startDelay, 0),
  };
}

/** vt, qty, max_poll_seconds and poll_interval_ms of read_with_poll / poll_for_tasks, checked. */
const pollValues = (method: string, visibilityTimeout: number, qty: number, minimumQty: number, maxPollSeconds: number, pollIntervalMs: number) => [
  checkInteger(at(method), 'visibilityTimeout', visibilityTimeout, 0),
  checkInteger(at(method), 'qty', qty, minimumQty),
  checkInteger(at(method), 'maxPollSeconds', maxPollSeconds),
  checkInteger(at(method), 'pollIntervalMs', pollIntervalMs, 0),
];

const messageIds = (method: string, msgIds: readonly unknown[]) =>
  checkArray(at(method), 'msgIds', msgIds).map((id, index) => checkMessageId(at(method), `msgIds[${index}]`, id));

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

/** The parameters of start_flow / start_flow_with_states, checked. */
function startValues(method: string, flowSlug: string, input: unknown, options: string | StartOptions | undefined): unknown[] {
  const { runId, idempotencyKey } = startOptions(options);
  return [
    flowSlug,
    jsonParameter(at(method), 'input', `the input of a run of flow "${flowSlug}"`, input),
    checkOptionalUuid(at(method), 'runId', runId),
    idempotencyKey === undefined || idempotencyKey === null ? null : checkText(at(method), 'idempotencyKey', idempotencyKey),
  ];
}

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

/**
 * The engine's SQL functions as typed methods (camelCase arguments and records) over one connection; made by `pgflowSql(db)`.
 *
 * @example
 * ```ts
 * import { pgflowSql } from 'pgflow-orm';
 *
 * const pgflow = pgflowSql(db); // a Drizzle database here; any supported connection works
 * await pgflow.createFlow('reports');
 * await pgflow.addStep('reports', 'render', { timeout: 120 });
 * await pgflow.pauseFlow('reports');
 * console.log((await pgflow.getRunWithStates('0193a3b4-0000-7000-8000-000000000000'))?.run);
 * ```
 */
export class PgflowSql {
  readonly executor: SqlExecutor;

  constructor(db: PgflowConnection) {
    this.executor = toExecutor(db);
  }

  private async one<R>(text: string, values: unknown[], map: (row: Record<string, unknown>) => R): Promise<R> {
    checkTextParameters(calledFunction(text), values);
    const [row] = await this.executor.query<Record<string, unknown>>(text, values);
    if (!row) throw new Error(`pgflow-orm: expected a row from: ${text}`);
    return map(row);
  }

  private async many<R>(text: string, values: unknown[], map: (row: Record<string, unknown>) => R): Promise<R[]> {
    checkTextParameters(calledFunction(text), values);
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
    const values = [checkNumber(at('calculateRetryDelay'), 'baseDelay', baseDelay, 0), checkInteger(at('calculateRetryDelay'), 'attemptsCount', attemptsCount, 0)];
    return this.one('select pgflow.calculate_retry_delay($1::numeric, $2::integer) as delay', values, (row) => row.delay as number);
  }

  /** Creates the flow, or updates the options passed for an existing one. */
  async createFlow(flowSlug: string, options: FlowOptions = {}): Promise<FlowRow> {
    const { maxAttempts, baseDelay, timeout } = optionValues('createFlow', options);
    return this.one(
      'select * from pgflow.create_flow(flow_slug => $1::text, max_attempts => $2::integer, base_delay => $3::integer, timeout => $4::integer)',
      [flowSlug, maxAttempts, baseDelay, timeout],
      toFlow,
    );
  }

  async addStep(
    flowSlug: string,
    stepSlug: string,
    options: StepOptions & StepCondition & { dependsOn?: readonly string[]; stepType?: StepType } = {},
  ): Promise<StepRow> {
    const { maxAttempts, baseDelay, timeout, startDelay } = optionValues('addStep', options);
    const pattern = (argument: string, value: unknown) => jsonParameter(at('addStep'), argument, `${argument} of step "${stepSlug}"`, value);
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
        maxAttempts,
        baseDelay,
        timeout,
        startDelay,
        options.stepType ?? 'single',
        pattern('requiredInputPattern', options.requiredInputPattern),
        pattern('forbiddenInputPattern', options.forbiddenInputPattern),
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
  async startFlow(flowSlug: string, input: { [key: string]: unknown } | readonly unknown[], options?: string | StartOptions): Promise<RunRow> {
    return this.one(
      'select * from pgflow.start_flow(flow_slug => $1::text, input => $2::text::jsonb, run_id => $3::uuid, idempotency_key => $4::text)',
      startValues('startFlow', flowSlug, input, options),
      toRun,
    );
  }

  /**
   * Starts one run per input in one call and one transaction (see `pgflow.start_flows`); returns the runs
   * in the order of their inputs. Each input must be a JSON object, or a JSON array for a flow with a root
   * map step; no run is started when one is not. An empty list starts nothing.
   */
  async startFlows(flowSlug: string, inputs: readonly ({ [key: string]: unknown } | readonly unknown[])[]): Promise<RunRow[]> {
    const values = checkArray(at('startFlows'), 'inputs', inputs).map((input, index) => {
      const text = jsonParameter(at('startFlows'), `inputs[${index}]`, `input ${index} of the runs of flow "${flowSlug}"`, input);
      if (text === null) throw new PgflowArgumentError(`${at('startFlows')}: inputs[${index}] is ${describeValue(input)}; each input must be a JSON object (or an array for a flow with a root map step)`, `inputs[${index}]`, input);
      return text;
    });
    if (values.length === 0) return [];
    return this.many('select * from pgflow.start_flows($1::text, $2::text[]::jsonb[])', [flowSlug, values], toRun);
  }

  async startFlowWithStates(flowSlug: string, input: { [key: string]: unknown } | readonly unknown[], options?: string | StartOptions): Promise<RunWithStates> {
    return this.one(
      'select pgflow.start_flow_with_states(flow_slug => $1::text, input => $2::text::jsonb, run_id => $3::uuid, idempotency_key => $4::text) as state',
      startValues('startFlowWithStates', flowSlug, input, options),
      (row) => row.state as RunWithStates,
    );
  }

  /** Cancels a started run (see `pgflow.cancel_run`); null when it had already finished. */
  async cancelRun(runId: string, reason?: string): Promise<RunRow | null> {
    const values = [checkUuid(at('cancelRun'), 'runId', runId), reason === undefined || reason === null ? null : checkText(at('cancelRun'), 'reason', reason)];
    const [run] = await this.many('select * from pgflow.cancel_run($1::uuid, $2::text)', values, toRun);
    return run ?? null;
  }

  /** Starts a failed or cancelled run again from where it stopped (see `pgflow.retry_run`); null when there was nothing to retry. */
  async retryRun(runId: string): Promise<RunRow | null> {
    const [run] = await this.many('select * from pgflow.retry_run($1::uuid)', [checkUuid(at('retryRun'), 'runId', runId)], toRun);
    return run ?? null;
  }

  /** Pauses a flow: workers start none of its tasks until `resumeFlow`. */
  async pauseFlow(flowSlug: string): Promise<FlowRow> {
    return this.one('select * from pgflow.pause_flow($1::text)', [flowSlug], toFlow);
  }

  async resumeFlow(flowSlug: string): Promise<FlowRow> {
    return this.one('select * from pgflow.resume_flow($1::text)', [flowSlug], toFlow);
  }

  /** Starts the flow on a cron schedule (five fields, read in `timezone`); replaces a schedule of that name. */
  async scheduleFlow(flowSlug: string, scheduleName: string, cron: string, input: Json = {}, timezone = 'UTC'): Promise<ScheduleRow> {
    return this.one(
      'select * from pgflow.schedule_flow($1::text, $2::text, $3::text, $4::text::jsonb, $5::text)',
      [flowSlug, scheduleName, cron, jsonParameter(at('scheduleFlow'), 'input', `the input of schedule "${scheduleName}" of flow "${flowSlug}"`, input), timezone],
      toSchedule,
    );
  }

  /** Removes a schedule; false when there was none of that name. */
  async unscheduleFlow(flowSlug: string, scheduleName: string): Promise<boolean> {
    return this.one('select pgflow.unschedule_flow($1::text, $2::text) as removed', [flowSlug, scheduleName], (row) => row.removed as boolean);
  }

  /** Starts the run of one tick of a schedule; null when that tick has already fired (here or elsewhere). */
  async fireSchedule(flowSlug: string, scheduleName: string, tick: Date): Promise<string | null> {
    if (!(tick instanceof Date) || Number.isNaN(tick.getTime())) {
      throw new PgflowArgumentError(`${at('fireSchedule')}: tick must be a valid Date, got ${describeValue(tick)}`, 'tick', tick);
    }
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
    const values = [olderThan, checkInteger(at('pruneBatch'), 'batchSize', batchSize, 1)];
    return this.one('select * from pgflow.prune_batch($1::interval, $2::integer)', values, (row) => ({
      prunedRuns: Number(row.pruned_runs),
      prunedStepStates: Number(row.pruned_step_states),
      prunedStepTasks: Number(row.pruned_step_tasks),
      prunedMessages: Number(row.pruned_messages),
    }));
  }

  /** The run and its step states, or null when there is no such run. */
  async getRunWithStates(runId: string): Promise<RunWithStates | null> {
    return this.one('select pgflow.get_run_with_states($1::uuid) as state', [checkUuid(at('getRunWithStates'), 'runId', runId)], (row) => (row.state ?? null) as RunWithStates | null);
  }

  /**
   * How deep the flows' queues are (all flows, or those named): messages readable now, in flight, delayed, and the
   * oldest readable message's age. Reads only; the numbers are a moment's snapshot.
   *
   * @example
   * ```ts
   * import { pgflowSql } from 'pgflow-orm';
   *
   * for (const depth of await pgflowSql(db).queueDepths(['reports'])) {
   *   console.log(depth.flowSlug, depth.visible, depth.inFlight, depth.delayed, depth.oldestVisibleSeconds);
   * }
   * ```
   */
  async queueDepths(flowSlugs?: readonly string[]): Promise<QueueDepth[]> {
    const slugs = flowSlugs === undefined ? undefined : checkArray<string>(at('queueDepths'), 'flowSlugs', flowSlugs).map((slug, index) => checkText(at('queueDepths'), `flowSlugs[${index}]`, slug));
    return readQueueDepths(this.executor, slugs);
  }

  /** `pgmq.read`: takes up to `qty` visible messages of the flow's queue, hidden for `visibilityTimeout` seconds. */
  async readMessages(flowSlug: string, visibilityTimeout: number, qty: number): Promise<QueueMessage<TaskMessage>[]> {
    const values = [flowSlug, checkInteger(at('readMessages'), 'visibilityTimeout', visibilityTimeout, 0), checkInteger(at('readMessages'), 'qty', qty, 0)];
    return this.many('select * from pgmq.read($1::text, $2::integer, $3::integer)', values, toQueueMessage<TaskMessage>);
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
      [flowSlug, ...pollValues('readWithPoll', visibilityTimeout, qty, 0, maxPollSeconds, pollIntervalMs)],
      toQueueMessage<TaskMessage>,
    );
  }

  /** Starts the tasks behind messages read from the flow's queue and returns them with their input. */
  async startTasks<TInput = Record<string, Json>>(flowSlug: string, msgIds: readonly number[], workerId: string): Promise<StepTaskRecord<TInput>[]> {
    return this.many(
      'select * from pgflow.start_tasks(flow_slug => $1::text, msg_ids => $2::bigint[], worker_id => $3::uuid)',
      [flowSlug, messageIds('startTasks', msgIds), checkUuid(at('startTasks'), 'workerId', workerId)],
      toStepTaskRecord<TInput>,
    );
  }

  /** Reads and starts up to `qty` tasks in one call (`pgmq.read` + `start_tasks`, one commit), with their attempt numbers. */
  async claimTasks<TInput = Record<string, Json>>(flowSlug: string, workerId: string, qty = 10): Promise<ClaimedTask<TInput>[]> {
    return this.many(
      'select * from pgflow.claim_tasks(flow_slug => $1::text, worker_id => $2::uuid, qty => $3::integer)',
      [flowSlug, checkUuid(at('claimTasks'), 'workerId', workerId), checkInteger(at('claimTasks'), 'qty', qty, 1)],
      toClaimedTask<TInput>,
    );
  }

  /** Completes a started task; null when the task was not started or its run has failed. */
  async completeTask(completion: TaskCompletion): Promise<StepTaskRow | null> {
    const [task] = await this.completeTasks([completion]);
    return task ?? null;
  }

  /** Completes many started tasks in one call; returns the ones that were completed. */
  async completeTasks(completions: readonly TaskCompletion[]): Promise<StepTaskRow[]> {
    checkArray(at('completeTasks'), 'completions', completions);
    if (completions.length === 0) return [];
    const method = completions.length === 1 ? 'completeTask' : 'completeTasks';
    const runIds: string[] = [];
    const taskIndexes: number[] = [];
    const outputs: (string | null)[] = [];
    for (const [index, completion] of completions.entries()) {
      const argument = completions.length === 1 ? 'completion' : `completions[${index}]`;
      const runId = checkUuid(at(method), `${argument}.runId`, completion.runId);
      const taskIndex = checkInteger(at(method), `${argument}.taskIndex`, completion.taskIndex ?? 0, 0);
      runIds.push(runId);
      taskIndexes.push(taskIndex);
      outputs.push(jsonParameter(at(method), `${argument}.output`, `the output of task ${taskIndex} of step "${completion.stepSlug}" in run ${runId}`, completion.output));
    }
    return this.many(
      'select * from pgflow.complete_tasks($1::uuid[], $2::text[], $3::integer[], $4::text[]::jsonb[])',
      [runIds, completions.map((completion) => completion.stepSlug), taskIndexes, outputs],
      toStepTask,
    );
  }

  /** Records a failed attempt: the task is retried after its backoff, or fails its run when no attempt is left. */
  async failTask(failure: TaskFailure): Promise<StepTaskRow | null> {
    const values = [
      checkUuid(at('failTask'), 'failure.runId', failure.runId),
      failure.stepSlug,
      checkInteger(at('failTask'), 'failure.taskIndex', failure.taskIndex ?? 0, 0),
      checkText(at('failTask'), 'failure.errorMessage', failure.errorMessage),
    ];
    const [task] = await this.many(
      'select * from pgflow.fail_task(run_id => $1::uuid, step_slug => $2::text, task_index => $3::integer, error_message => $4::text)',
      values,
      toStepTask,
    );
    return task ?? null;
  }

  async setVtBatch(queueName: string, msgIds: readonly number[], vtOffsets: readonly number[]): Promise<QueueMessage[]> {
    const offsets = checkArray(at('setVtBatch'), 'vtOffsets', vtOffsets).map((offset, index) => checkInteger(at('setVtBatch'), `vtOffsets[${index}]`, offset));
    return this.many('select * from pgflow.set_vt_batch($1::text, $2::bigint[], $3::integer[])', [queueName, messageIds('setVtBatch', msgIds), offsets], toQueueMessage);
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
      [queueName, ...pollValues('pollForTasks', visibilityTimeout, qty, 1, maxPollSeconds, pollIntervalMs)],
      toStepTaskRecord<TInput>,
    );
  }

  async startReadySteps(runId: string): Promise<void> {
    await this.executor.query('select pgflow.start_ready_steps($1::uuid)', [checkUuid(at('startReadySteps'), 'runId', runId)]);
  }

  async maybeCompleteRun(runId: string): Promise<void> {
    await this.executor.query('select pgflow.maybe_complete_run($1::uuid)', [checkUuid(at('maybeCompleteRun'), 'runId', runId)]);
  }

  async cascadeCompleteTasklessSteps(runId: string): Promise<number> {
    return this.one('select pgflow.cascade_complete_taskless_steps($1::uuid) as completed', [checkUuid(at('cascadeCompleteTasklessSteps'), 'runId', runId)], (row) => row.completed as number);
  }

  /** Registers (or re-registers) a worker serving `queueName`. */
  async registerWorker(workerId: string, queueName: string, functionName: string): Promise<WorkerRow> {
    return this.one('select * from pgflow.register_worker($1::uuid, $2::text, $3::text)', [checkUuid(at('registerWorker'), 'workerId', workerId), queueName, functionName], toWorker);
  }

  async heartbeatWorker(workerId: string): Promise<void> {
    await this.executor.query('select pgflow.heartbeat_worker($1::uuid)', [checkUuid(at('heartbeatWorker'), 'workerId', workerId)]);
  }

  async stopWorker(workerId: string): Promise<void> {
    await this.executor.query('select pgflow.stop_worker($1::uuid)', [checkUuid(at('stopWorker'), 'workerId', workerId)]);
  }
}

/**
 * Typed access to the engine's SQL functions through any supported connection.
 *
 * @example
 * ```ts
 * import { randomUUID } from 'node:crypto';
 * import { pgflowSql } from 'pgflow-orm';
 *
 * const pgflow = pgflowSql(pool); // or a Drizzle database, a Kysely instance, a postgres.js sql
 * await pgflow.createFlow('thumbnails', { maxAttempts: 3 });
 * await pgflow.addStep('thumbnails', 'resize');
 * const run = await pgflow.startFlow('thumbnails', { url: 'https://example.com/cat.jpg' });
 * const [task] = await pgflow.claimTasks('thumbnails', randomUUID(), 1);
 * if (task) await pgflow.completeTask({ runId: task.runId, stepSlug: task.stepSlug, taskIndex: task.taskIndex, output: { ok: true } });
 * console.log(run.runId);
 * ```
 */
export function pgflowSql(db: PgflowConnection): PgflowSql {
  return new PgflowSql(db);
}
