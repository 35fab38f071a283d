/**
 * Kysely types for the seven pgflow tables, mirroring schema.ts column for
 * column (snake_case, as in the database). Merge `PgflowDatabase` into the
 * app's own database type:
 *
 * ```ts
 * import type { PgflowDatabase } from 'pgflow-orm/kysely';
 * type DB = AppTables & PgflowDatabase;
 * const db = new Kysely<DB>({ dialect });
 * await db.selectFrom('pgflow.runs').selectAll().where('status', '=', 'failed').execute();
 * ```
 *
 * A type test checks that these interfaces and the Drizzle tables agree on
 * column names and nullability.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { AccessLevel, Json, RunStatus, SkipMode, SkipReason, StepStatus, StepType, TaskStatus } from '../core/types.js';

export type { AccessLevel, Json, RunStatus, StepStatus, StepType, TaskStatus } from '../core/types.js';

/** A `timestamptz` column: read as a `Date`, written as a `Date` or an ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** A nullable `timestamptz` column. */
export type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;

/** A `timestamptz` column with `default now()`: optional on insert. */
export type GeneratedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

/**
 * A `bigint` (int8) column. node-postgres and postgres.js return int8 as a
 * string (a JavaScript number cannot hold every int8 value), so a selected
 * value is a `string`; convert it with `Number(...)` when it is a queue
 * message id. Writes accept a string, a number or a bigint.
 */
export type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;

/** A nullable `bigint` column (see `Int8`). */
export type NullableInt8 = ColumnType<string | null, string | number | bigint | null, string | number | bigint | null>;

/** A JSON value other than `null`. */
export type JsonValue = Exclude<Json, null>;

/**
 * A NOT NULL `jsonb` column. Reading gives any JSON value, JSON `null`
 * included. Writing takes a non-null value: drivers send JavaScript `null`
 * as SQL NULL, which the column refuses (and which Kysely would otherwise
 * treat as "may be left out" on insert).
 *
 * node-postgres sends a JavaScript object as JSON but a JavaScript array as a
 * PostgreSQL array, so write arrays and top-level strings as
 * `JSON.stringify(value)` (or through the engine's functions, which do this).
 */
export type JsonColumn = ColumnType<Json, JsonValue, JsonValue>;

/** A nullable `jsonb` column: SQL NULL and JSON `null` both read as `null`. */
export type NullableJsonColumn = Json | null;

/** `pgflow.flows`: one row per flow definition. */
export interface FlowsTable {
  flow_slug: string;
  opt_max_attempts: Generated<number>;
  opt_base_delay: Generated<number>;
  opt_timeout: Generated<number>;
  created_at: GeneratedTimestamp;
  /** Set while the flow is paused: workers start none of its tasks. */
  paused_at: NullableTimestamp;
}

/** `pgflow.steps`: the steps of each flow, in the order they were added. */
export interface StepsTable {
  flow_slug: string;
  step_slug: string;
  step_type: Generated<StepType>;
  step_index: Generated<number>;
  deps_count: Generated<number>;
  opt_max_attempts: number | null;
  opt_base_delay: number | null;
  opt_timeout: number | null;
  created_at: GeneratedTimestamp;
  opt_start_delay: number | null;
  /** Run the step only when its input contains this JSON (`input @> pattern`). */
  required_input_pattern: { [key: string]: Json } | null;
  /** Run the step only when its input does not contain this JSON. */
  forbidden_input_pattern: { [key: string]: Json } | null;
  /** What happens when a condition is not met. */
  when_unmet: Generated<SkipMode>;
  /** What happens when a task has failed its last attempt. */
  when_exhausted: Generated<SkipMode>;
}

/** `pgflow.deps`: `step_slug` depends on `dep_slug` within a flow. */
export interface DepsTable {
  flow_slug: string;
  /** The step depended upon (the parent). */
  dep_slug: string;
  /** The dependent step (the child). */
  step_slug: string;
  created_at: GeneratedTimestamp;
}

/** `pgflow.runs`: one row per started flow. */
export interface RunsTable {
  run_id: Generated<string>;
  flow_slug: string;
  status: Generated<RunStatus>;
  input: JsonColumn;
  output: NullableJsonColumn;
  remaining_steps: Generated<number>;
  started_at: GeneratedTimestamp;
  completed_at: NullableTimestamp;
  failed_at: NullableTimestamp;
  cancelled_at: NullableTimestamp;
  /** Why the run was cancelled (pgflow.cancel_run's reason). */
  cancel_reason: string | null;
  /** The caller's key for an idempotent start; the run id is derived from it. */
  idempotency_key: string | null;
}

/** `pgflow.step_states`: the state of each step within a run. */
export interface StepStatesTable {
  flow_slug: string;
  run_id: string;
  step_slug: string;
  status: Generated<StepStatus>;
  /** NULL until the step starts; then the number of its tasks not yet completed. */
  remaining_tasks: number | null;
  remaining_deps: Generated<number>;
  created_at: GeneratedTimestamp;
  started_at: NullableTimestamp;
  completed_at: NullableTimestamp;
  failed_at: NullableTimestamp;
  error_message: string | null;
  /** How many tasks the step has (1 for a single step, one per element for a map); NULL while unknown. */
  initial_tasks: number | null;
  skipped_at: NullableTimestamp;
  /** Why the step was skipped: its condition was not met, its handler failed for good, or a dependency was skipped. */
  skip_reason: SkipReason | null;
  cancelled_at: NullableTimestamp;
}

/** `pgflow.step_tasks`: the unit of work a worker executes. */
export interface StepTasksTable {
  flow_slug: string;
  run_id: string;
  step_slug: string;
  /** The queue message carrying this task (`msg_id` in `pgmq.q_<flow_slug>`), as a string: see `Int8`. */
  message_id: NullableInt8;
  task_index: Generated<number>;
  status: Generated<TaskStatus>;
  attempts_count: Generated<number>;
  error_message: string | null;
  output: NullableJsonColumn;
  queued_at: GeneratedTimestamp;
  completed_at: NullableTimestamp;
  failed_at: NullableTimestamp;
  started_at: NullableTimestamp;
  last_worker_id: string | null;
  cancelled_at: NullableTimestamp;
}

/** `pgflow.workers`: registered worker processes. */
export interface WorkersTable {
  worker_id: string;
  queue_name: string;
  function_name: string;
  started_at: GeneratedTimestamp;
  /** Set when the worker shuts down. */
  stopped_at: NullableTimestamp;
  /** Set to ask a worker to stop taking new work. */
  deprecated_at: NullableTimestamp;
  last_heartbeat_at: GeneratedTimestamp;
}

/** `pgflow.schedules`: flows started on a cron schedule. */
export interface SchedulesTable {
  flow_slug: string;
  schedule_name: string;
  /** Five fields: minute, hour, day of month, month, day of week. */
  cron: string;
  input: JsonColumn;
  /** The IANA time zone the cron expression is read in. */
  timezone: Generated<string>;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
}

/** `pgflow.schedule_ticks`: each tick of a schedule that has fired, with the run it started. */
export interface ScheduleTicksTable {
  flow_slug: string;
  schedule_name: string;
  tick: ColumnType<Date, Date | string, Date | string>;
  run_id: string;
  fired_at: GeneratedTimestamp;
}

/** `pgflow.role_access`: the access level each role was given by pgflow.grant_worker / grant_client / grant_reader / grant_admin. */
export interface RoleAccessTable {
  role_name: string;
  access: AccessLevel;
  granted_at: GeneratedTimestamp;
}

/** The pgflow tables, keyed as Kysely addresses schema-qualified tables. */
export interface PgflowDatabase {
  'pgflow.flows': FlowsTable;
  'pgflow.steps': StepsTable;
  'pgflow.deps': DepsTable;
  'pgflow.runs': RunsTable;
  'pgflow.step_states': StepStatesTable;
  'pgflow.step_tasks': StepTasksTable;
  'pgflow.workers': WorkersTable;
  'pgflow.schedules': SchedulesTable;
  'pgflow.schedule_ticks': ScheduleTicksTable;
  'pgflow.role_access': RoleAccessTable;
}

export type FlowRow = Selectable<FlowsTable>;
export type StepRow = Selectable<StepsTable>;
export type DepRow = Selectable<DepsTable>;
export type RunRow = Selectable<RunsTable>;
export type StepStateRow = Selectable<StepStatesTable>;
export type StepTaskRow = Selectable<StepTasksTable>;
export type WorkerRow = Selectable<WorkersTable>;
export type ScheduleRow = Selectable<SchedulesTable>;
export type ScheduleTickRow = Selectable<ScheduleTicksTable>;
export type RoleAccessRow = Selectable<RoleAccessTable>;

export type NewFlowRow = Insertable<FlowsTable>;
export type NewStepRow = Insertable<StepsTable>;
export type NewDepRow = Insertable<DepsTable>;
export type NewRunRow = Insertable<RunsTable>;
export type NewStepStateRow = Insertable<StepStatesTable>;
export type NewStepTaskRow = Insertable<StepTasksTable>;
export type NewWorkerRow = Insertable<WorkersTable>;
export type NewScheduleRow = Insertable<SchedulesTable>;
export type NewScheduleTickRow = Insertable<ScheduleTicksTable>;
export type NewRoleAccessRow = Insertable<RoleAccessTable>;

export type FlowRowUpdate = Updateable<FlowsTable>;
export type StepRowUpdate = Updateable<StepsTable>;
export type DepRowUpdate = Updateable<DepsTable>;
export type RunRowUpdate = Updateable<RunsTable>;
export type StepStateRowUpdate = Updateable<StepStatesTable>;
export type StepTaskRowUpdate = Updateable<StepTasksTable>;
export type WorkerRowUpdate = Updateable<WorkersTable>;
export type ScheduleRowUpdate = Updateable<SchedulesTable>;
export type ScheduleTickRowUpdate = Updateable<ScheduleTicksTable>;
export type RoleAccessRowUpdate = Updateable<RoleAccessTable>;
