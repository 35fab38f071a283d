/**
 * The engine's records as TypeScript sees them: the rows of the pgflow tables
 * (generated from schema.ts into ./row-types.ts, `RunRow` …, with the earlier
 * names kept as deprecated aliases), the task record handed to workers, queue
 * messages and the value sets of ./enums.ts.
 */
import type { Json } from './enums.js';
import type { DepRow, FlowRow, RoleAccessRow, RunRow, ScheduleRow, ScheduleTickRow, StepRow, StepStateRow, StepTaskRow, WorkerRow } from './row-types.js';

export { ACCESS_LEVELS, RUN_STATUSES, SKIP_MODES, SKIP_REASONS, STEP_STATUSES, STEP_TYPES, TASK_STATUSES } from './enums.js';
export type { AccessLevel, Json, RunStatus, SkipMode, SkipReason, StepStatus, StepType, TaskStatus } from './enums.js';
export type { DepRow, FlowRow, RoleAccessRow, RunRow, ScheduleRow, ScheduleTickRow, StepRow, StepStateRow, StepTaskRow, WorkerRow } from './row-types.js';

/** @deprecated Use `FlowRow` (a row of pgflow.flows; `Flow` is the DSL's flow definition). */
export type FlowRecord = FlowRow;
/** @deprecated Use `StepRow`. */
export type StepRecord = StepRow;
/** @deprecated Use `DepRow`. */
export type Dep = DepRow;
/** @deprecated Use `RunRow`. */
export type Run = RunRow;
/** @deprecated Use `StepStateRow`. */
export type StepState = StepStateRow;
/** @deprecated Use `StepTaskRow`. */
export type StepTask = StepTaskRow;
/** @deprecated Use `ScheduleRow`. */
export type Schedule = ScheduleRow;
/** @deprecated Use `ScheduleTickRow`. */
export type ScheduleTick = ScheduleTickRow;
/** @deprecated Use `RoleAccessRow`. */
export type RoleAccess = RoleAccessRow;
/** @deprecated Use `WorkerRow`. */
export type Worker = WorkerRow;

/** A task handed to a worker by start_tasks / claim_tasks. */
export interface StepTaskRecord<TInput = Json> {
  flowSlug: string;
  runId: string;
  stepSlug: string;
  /**
   * A single step's task: `{ run: <run input>, <dependency slug>: <its output> }` for each direct
   * dependency that completed (a skipped one is absent). A map step's task: the array element at `taskIndex`.
   */
  input: TInput;
  msgId: number;
  taskIndex: number;
}

/** A task handed out by claim_tasks: a StepTaskRecord plus the attempt its start counts (1 for the first). */
export interface ClaimedTask<TInput = Json> extends StepTaskRecord<TInput> {
  attemptsCount: number;
}

/** A queue message as pgmq.read returns it. */
export interface QueueMessage<TMessage = Json> {
  msgId: number;
  readCt: number;
  enqueuedAt: Date;
  vt: Date;
  message: TMessage;
  headers: Json | null;
}

/** The body of a task's queue message. */
export interface TaskMessage {
  flow_slug: string;
  run_id: string;
  step_slug: string;
  task_index: number;
}

/** A run with the states of its steps, as get_run_with_states returns it (snake_case JSON). */
export interface RunWithStates {
  run: Record<string, Json>;
  steps: Record<string, Json>[];
}
