/**
 * `pgflow-orm/drizzle-1`: the pgflow tables, their relations and the
 * migrator for apps on drizzle-orm 1.x (release candidates included). The
 * tables are the same objects as `pgflow-orm/drizzle` exports; only their
 * declarations differ, generated against drizzle-orm 1.x.
 *
 * ```ts
 * import { drizzle } from 'drizzle-orm/node-postgres';
 * import { migratePgflow, pgflowRelations, runs } from 'pgflow-orm/drizzle-1';
 *
 * const db = drizzle({ client: pool, relations: pgflowRelations });
 * await migratePgflow(db);
 * await db.select().from(runs).where(eq(runs.status, 'failed'));
 * await db.query.runs.findMany({ with: { stepStates: true } });
 * ```
 */
export { deps, flows, pgflow, roleAccess, runs, scheduleTicks, schedules, stepStates, stepTasks, steps, workers } from '../../schema.js';
export { pgflowRelations, pgflowTables } from './relations.js';
export { migratePgflow, PgflowMigrationError, type ApplyResult, type DrizzleDatabaseLike } from '../drizzle/migrate.js';
export type {
  AccessLevel,
  Dep,
  FlowRecord,
  Json,
  RoleAccess,
  Run,
  RunStatus,
  StepRecord,
  StepState,
  StepStatus,
  StepTask,
  StepTaskRecord,
  StepType,
  TaskStatus,
  Worker,
} from '../core/types.js';
export type { DepRow, FlowRow, RoleAccessRow, RunRow, ScheduleRow, ScheduleTickRow, StepRow, StepStateRow, StepTaskRow, WorkerRow } from '../core/types.js';
