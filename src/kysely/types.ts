/**
 * Kysely types for the pgflow tables, generated from schema.ts column for
 * column (snake_case, as in the database; see ./tables.ts). Merge
 * `PgflowDatabase` into the app's own database type:
 *
 * ```ts
 * import type { PgflowDatabase } from 'pgflow-orm/kysely';
 * type DB = AppTables & PgflowDatabase;
 * const db = new Kysely<DB>({ dialect });
 * await db.selectFrom('pgflow.runs').selectAll().where('status', '=', 'failed').execute();
 * ```
 *
 * Each table has `<Table>Table` (the Kysely interface), `<Entity>Row` (a
 * selected row), `New<Entity>Row` (an insert) and `<Entity>RowUpdate`.
 */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type {
  DepsTable,
  FlowsTable,
  RoleAccessTable,
  RunsTable,
  SchedulesTable,
  ScheduleTicksTable,
  StepsTable,
  StepStatesTable,
  StepTasksTable,
  WorkersTable,
} from './tables.js';

export type { AccessLevel, Json, RunStatus, StepStatus, StepType, TaskStatus } from '../core/enums.js';
export type { GeneratedTimestamp, Int8, JsonColumn, JsonValue, NullableInt8, NullableJsonColumn, NullableTimestamp, Timestamp } from './columns.js';
export type {
  DepsTable,
  FlowsTable,
  PgflowDatabase,
  RoleAccessTable,
  RunsTable,
  SchedulesTable,
  ScheduleTicksTable,
  StepsTable,
  StepStatesTable,
  StepTasksTable,
  WorkersTable,
} from './tables.js';

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
