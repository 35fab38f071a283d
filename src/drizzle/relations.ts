/**
 * Relations between the pgflow tables for Drizzle's relational query API
 * (drizzle-orm 0.x, `relations()`):
 *
 * ```ts
 * const db = drizzle(pool, { schema: { ...appSchema, ...pgflowSchema } });
 * await db.query.runs.findMany({ with: { stepStates: { with: { stepTasks: true } } } });
 * ```
 *
 * Relations only describe joins; the foreign keys themselves are in schema.ts.
 *
 * drizzle-orm 1.0 moved `relations()` to `drizzle-orm/_relations` (its
 * relational queries now take `defineRelations()`, see docs/guides/typed-queries.md), so the
 * function is looked up at load time: this module, and `pgflow-orm/drizzle`
 * with it, loads on either line.
 */
import * as drizzleOrm from 'drizzle-orm';
import { deps, flows, runs, scheduleTicks, schedules, stepStates, stepTasks, steps, workers } from '../../schema.js';

/** Where drizzle-orm 1.0 keeps `relations()`; a variable, so TypeScript (typed against 0.x) does not resolve it. */
const LEGACY_RELATIONS_MODULE = 'drizzle-orm/_relations';

const relations: typeof drizzleOrm.relations =
  (drizzleOrm as Partial<typeof drizzleOrm>).relations ?? ((await import(LEGACY_RELATIONS_MODULE)) as typeof drizzleOrm).relations;

export const flowsRelations = relations(flows, ({ many }) => ({
  schedules: many(schedules),
  steps: many(steps),
  deps: many(deps),
  runs: many(runs),
  stepStates: many(stepStates),
  stepTasks: many(stepTasks),
}));

export const stepsRelations = relations(steps, ({ one, many }) => ({
  flow: one(flows, { fields: [steps.flowSlug], references: [flows.flowSlug] }),
  /** The edges to the steps this step depends on (`deps.step_slug` = this step). */
  deps: many(deps, { relationName: 'dependentStep' }),
  /** The edges to the steps that depend on this step (`deps.dep_slug` = this step). */
  dependents: many(deps, { relationName: 'dependencyStep' }),
  stepStates: many(stepStates),
}));

export const depsRelations = relations(deps, ({ one }) => ({
  flow: one(flows, { fields: [deps.flowSlug], references: [flows.flowSlug] }),
  /** The dependent step (the child). */
  step: one(steps, { fields: [deps.flowSlug, deps.stepSlug], references: [steps.flowSlug, steps.stepSlug], relationName: 'dependentStep' }),
  /** The step depended upon (the parent). */
  dependency: one(steps, {
    fields: [deps.flowSlug, deps.depSlug],
    references: [steps.flowSlug, steps.stepSlug],
    relationName: 'dependencyStep',
  }),
}));

export const runsRelations = relations(runs, ({ one, many }) => ({
  flow: one(flows, { fields: [runs.flowSlug], references: [flows.flowSlug] }),
  stepStates: many(stepStates),
  stepTasks: many(stepTasks),
}));

export const stepStatesRelations = relations(stepStates, ({ one, many }) => ({
  flow: one(flows, { fields: [stepStates.flowSlug], references: [flows.flowSlug] }),
  run: one(runs, { fields: [stepStates.runId], references: [runs.runId] }),
  step: one(steps, { fields: [stepStates.flowSlug, stepStates.stepSlug], references: [steps.flowSlug, steps.stepSlug] }),
  stepTasks: many(stepTasks),
}));

export const stepTasksRelations = relations(stepTasks, ({ one }) => ({
  flow: one(flows, { fields: [stepTasks.flowSlug], references: [flows.flowSlug] }),
  run: one(runs, { fields: [stepTasks.runId], references: [runs.runId] }),
  stepState: one(stepStates, { fields: [stepTasks.runId, stepTasks.stepSlug], references: [stepStates.runId, stepStates.stepSlug] }),
  /** The worker that last started the task (NULL until started, or once that worker is deleted). */
  lastWorker: one(workers, { fields: [stepTasks.lastWorkerId], references: [workers.workerId] }),
}));

export const workersRelations = relations(workers, ({ many }) => ({
  /** Tasks this worker started last. */
  tasks: many(stepTasks),
}));

export const schedulesRelations = relations(schedules, ({ one, many }) => ({
  flow: one(flows, { fields: [schedules.flowSlug], references: [flows.flowSlug] }),
  ticks: many(scheduleTicks),
}));

export const scheduleTicksRelations = relations(scheduleTicks, ({ one }) => ({
  schedule: one(schedules, { fields: [scheduleTicks.flowSlug, scheduleTicks.scheduleName], references: [schedules.flowSlug, schedules.scheduleName] }),
  run: one(runs, { fields: [scheduleTicks.runId], references: [runs.runId] }),
}));
