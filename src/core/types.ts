/**
 * The engine's records as TypeScript sees them: the rows of the seven pgflow
 * tables with camelCase keys (the same shapes Drizzle infers from schema.ts,
 * which a type test checks) and the task record handed to workers.
 */

/** Any JSON value, as stored in the `jsonb` columns. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export const RUN_STATUSES = ['started', 'completed', 'failed', 'cancelled'] as const;
export const STEP_STATUSES = ['created', 'started', 'completed', 'failed', 'skipped', 'cancelled'] as const;
export const TASK_STATUSES = ['queued', 'started', 'completed', 'failed', 'cancelled'] as const;
export const STEP_TYPES = ['single', 'map'] as const;
/** What a step does when its condition is not met (`when_unmet`) or its task has failed its last attempt (`when_exhausted`). */
export const SKIP_MODES = ['fail', 'skip', 'skip-cascade'] as const;
export const SKIP_REASONS = ['condition_unmet', 'handler_failed', 'dependency_skipped'] as const;
/** The access levels pgflow.grant_worker / grant_client / grant_reader / grant_admin give a role. */
export const ACCESS_LEVELS = ['worker', 'client', 'reader', 'admin'] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];
export type StepStatus = (typeof STEP_STATUSES)[number];
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type StepType = (typeof STEP_TYPES)[number];
export type SkipMode = (typeof SKIP_MODES)[number];
export type SkipReason = (typeof SKIP_REASONS)[number];
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

/** A row of pgflow.flows (`Flow` is the DSL's flow definition). */
export interface FlowRecord {
  flowSlug: string;
  optMaxAttempts: number;
  optBaseDelay: number;
  optTimeout: number;
  createdAt: Date;
  /** Set while the flow is paused. */
  pausedAt: Date | null;
}

/** A row of pgflow.steps. */
export interface StepRecord {
  flowSlug: string;
  stepSlug: string;
  stepType: StepType;
  stepIndex: number;
  depsCount: number;
  optMaxAttempts: number | null;
  optBaseDelay: number | null;
  optTimeout: number | null;
  createdAt: Date;
  optStartDelay: number | null;
  requiredInputPattern: { [key: string]: Json } | null;
  forbiddenInputPattern: { [key: string]: Json } | null;
  whenUnmet: SkipMode;
  whenExhausted: SkipMode;
}

export interface Dep {
  flowSlug: string;
  depSlug: string;
  stepSlug: string;
  createdAt: Date;
}

export interface Run {
  runId: string;
  flowSlug: string;
  status: RunStatus;
  input: Json;
  output: Json | null;
  remainingSteps: number;
  startedAt: Date;
  completedAt: Date | null;
  failedAt: Date | null;
  cancelledAt: Date | null;
  cancelReason: string | null;
  idempotencyKey: string | null;
}

export interface StepState {
  flowSlug: string;
  runId: string;
  stepSlug: string;
  status: StepStatus;
  remainingTasks: number | null;
  remainingDeps: number;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  failedAt: Date | null;
  errorMessage: string | null;
  initialTasks: number | null;
  skippedAt: Date | null;
  skipReason: SkipReason | null;
  cancelledAt: Date | null;
}

export interface StepTask {
  flowSlug: string;
  runId: string;
  stepSlug: string;
  messageId: number | null;
  taskIndex: number;
  status: TaskStatus;
  attemptsCount: number;
  errorMessage: string | null;
  output: Json | null;
  queuedAt: Date;
  completedAt: Date | null;
  failedAt: Date | null;
  startedAt: Date | null;
  lastWorkerId: string | null;
  cancelledAt: Date | null;
}

/** A row of pgflow.schedules: a flow started on a cron schedule. */
export interface Schedule {
  flowSlug: string;
  scheduleName: string;
  cron: string;
  input: Json;
  timezone: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A row of pgflow.schedule_ticks: a tick of a schedule that has fired. */
export interface ScheduleTick {
  flowSlug: string;
  scheduleName: string;
  tick: Date;
  runId: string;
  firedAt: Date;
}

/** A row of pgflow.role_access: an access level given to a role by pgflow.grant_<level>. */
export interface RoleAccess {
  roleName: string;
  access: AccessLevel;
  grantedAt: Date;
}

export interface Worker {
  workerId: string;
  queueName: string;
  functionName: string;
  startedAt: Date;
  stoppedAt: Date | null;
  deprecatedAt: Date | null;
  lastHeartbeatAt: Date;
}

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
