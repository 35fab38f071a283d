/**
 * pgflow's relations for drizzle-orm 1.x's relational queries, built with
 * `defineRelations()`:
 *
 * ```ts
 * const db = drizzle({ client: pool, relations: pgflowRelations });
 * await db.query.runs.findMany({ where: { status: 'failed' }, with: { stepStates: true } });
 * ```
 *
 * The package is compiled against drizzle-orm 0.x, where `defineRelations`
 * does not exist, so its type is looked up conditionally: the declarations
 * shipped for this entry are generated against drizzle-orm 1.x
 * (`tsconfig.drizzle-1.json`), where it resolves to the real, precisely typed
 * function. Relations only describe joins; the foreign keys are in schema.ts.
 */
import * as drizzleOrm from 'drizzle-orm';
import { deps, flows, roleAccess, runs, scheduleTicks, schedules, stepStates, stepTasks, steps, workers } from '../../schema.js';

type DefineRelations = typeof drizzleOrm extends { defineRelations: infer Define }
  ? Define
  : (schema: Record<string, unknown>, relations: (r: any) => unknown) => unknown; // drizzle-orm 0.x: never called

const { defineRelations } = drizzleOrm as unknown as { defineRelations: DefineRelations };

/** The pgflow tables, keyed as `db.query.<key>` names them. */
export const pgflowTables = { flows, steps, deps, runs, stepStates, stepTasks, workers, schedules, scheduleTicks, roleAccess };

export const pgflowRelations = defineRelations(pgflowTables, (r) => ({
  flows: {
    steps: r.many.steps({ from: r.flows.flowSlug, to: r.steps.flowSlug }),
    runs: r.many.runs({ from: r.flows.flowSlug, to: r.runs.flowSlug }),
    schedules: r.many.schedules({ from: r.flows.flowSlug, to: r.schedules.flowSlug }),
  },
  steps: {
    flow: r.one.flows({ from: r.steps.flowSlug, to: r.flows.flowSlug, optional: false }),
    /** The edges to the steps this step depends on (`deps.step_slug` = this step). */
    deps: r.many.deps({ from: [r.steps.flowSlug, r.steps.stepSlug], to: [r.deps.flowSlug, r.deps.stepSlug], alias: 'dependentStep' }),
    /** The edges to the steps that depend on this step (`deps.dep_slug` = this step). */
    dependents: r.many.deps({ from: [r.steps.flowSlug, r.steps.stepSlug], to: [r.deps.flowSlug, r.deps.depSlug], alias: 'dependencyStep' }),
  },
  deps: {
    flow: r.one.flows({ from: r.deps.flowSlug, to: r.flows.flowSlug, optional: false }),
    /** The dependent step (the child). */
    step: r.one.steps({ from: [r.deps.flowSlug, r.deps.stepSlug], to: [r.steps.flowSlug, r.steps.stepSlug], optional: false, alias: 'dependentStep' }),
    /** The step depended upon (the parent). */
    dependency: r.one.steps({ from: [r.deps.flowSlug, r.deps.depSlug], to: [r.steps.flowSlug, r.steps.stepSlug], optional: false, alias: 'dependencyStep' }),
  },
  runs: {
    flow: r.one.flows({ from: r.runs.flowSlug, to: r.flows.flowSlug, optional: false }),
    stepStates: r.many.stepStates({ from: r.runs.runId, to: r.stepStates.runId }),
    stepTasks: r.many.stepTasks({ from: r.runs.runId, to: r.stepTasks.runId }),
  },
  stepStates: {
    run: r.one.runs({ from: r.stepStates.runId, to: r.runs.runId, optional: false }),
    step: r.one.steps({ from: [r.stepStates.flowSlug, r.stepStates.stepSlug], to: [r.steps.flowSlug, r.steps.stepSlug], optional: false }),
    stepTasks: r.many.stepTasks({ from: [r.stepStates.runId, r.stepStates.stepSlug], to: [r.stepTasks.runId, r.stepTasks.stepSlug] }),
  },
  stepTasks: {
    run: r.one.runs({ from: r.stepTasks.runId, to: r.runs.runId, optional: false }),
    stepState: r.one.stepStates({ from: [r.stepTasks.runId, r.stepTasks.stepSlug], to: [r.stepStates.runId, r.stepStates.stepSlug], optional: false }),
    /** The worker that last started the task (none until started, or once that worker is deleted). */
    lastWorker: r.one.workers({ from: r.stepTasks.lastWorkerId, to: r.workers.workerId }),
  },
  workers: {
    /** Tasks this worker started last. */
    tasks: r.many.stepTasks({ from: r.workers.workerId, to: r.stepTasks.lastWorkerId }),
  },
  schedules: {
    flow: r.one.flows({ from: r.schedules.flowSlug, to: r.flows.flowSlug, optional: false }),
    ticks: r.many.scheduleTicks({ from: [r.schedules.flowSlug, r.schedules.scheduleName], to: [r.scheduleTicks.flowSlug, r.scheduleTicks.scheduleName] }),
  },
  scheduleTicks: {
    schedule: r.one.schedules({ from: [r.scheduleTicks.flowSlug, r.scheduleTicks.scheduleName], to: [r.schedules.flowSlug, r.schedules.scheduleName], optional: false }),
    /** The run the tick started (none once pruned). */
    run: r.one.runs({ from: r.scheduleTicks.runId, to: r.runs.runId }),
  },
}));
