/**
 * `pgflow-orm/drizzle`: the pgflow tables, their relations and the migrator
 * for Drizzle apps.
 *
 * ```ts
 * import { drizzle } from 'drizzle-orm/node-postgres';
 * import { eq } from 'drizzle-orm';
 * import { migratePgflow, pgflowSchema, runs } from 'pgflow-orm/drizzle';
 *
 * const db = drizzle(pool, { schema: { ...appSchema, ...pgflowSchema } });
 * await migratePgflow(db);
 * await db.select().from(runs).where(eq(runs.status, 'failed'));
 * await db.query.runs.findMany({ with: { stepStates: true } });
 * ```
 *
 * The app's own drizzle-kit config must leave schema `pgflow` alone (its
 * `schemaFilter` lists only the app's schemas, e.g. `['public']`), or
 * `drizzle-kit generate`/`push` would try to manage these tables.
 *
 * @module pgflow-orm/drizzle
 */
import { deps, flows, pgflow, roleAccess, runs, scheduleTicks, schedules, stepStates, stepTasks, steps, workers } from '../../schema.js';
import {
  depsRelations,
  flowsRelations,
  runsRelations,
  scheduleTicksRelations,
  schedulesRelations,
  stepStatesRelations,
  stepTasksRelations,
  stepsRelations,
  workersRelations,
} from './relations.js';

export { deps, flows, pgflow, roleAccess, runs, scheduleTicks, schedules, stepStates, stepTasks, steps, workers };
export {
  depsRelations,
  flowsRelations,
  runsRelations,
  scheduleTicksRelations,
  schedulesRelations,
  stepStatesRelations,
  stepTasksRelations,
  stepsRelations,
  workersRelations,
};
export { migratePgflow, PgflowMigrationError, type ApplyResult, type DrizzleDatabaseLike } from './migrate.js';
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

/** The tables and relations, to spread into the `schema` passed to `drizzle()`. */
export const pgflowSchema = {
  flows,
  steps,
  deps,
  runs,
  stepStates,
  stepTasks,
  workers,
  schedules,
  scheduleTicks,
  roleAccess,
  flowsRelations,
  stepsRelations,
  depsRelations,
  runsRelations,
  stepStatesRelations,
  stepTasksRelations,
  workersRelations,
  schedulesRelations,
  scheduleTicksRelations,
};
