/**
 * Operating runs and flows through any supported connection: cancel a run,
 * retry a failed or cancelled one, pause and resume a flow. Thin, typed
 * calls of pgflow.cancel_run / retry_run / pause_flow / resume_flow that
 * turn "no such run / flow" into typed errors, and a permission error into
 * a PgflowAccessError naming the admin level they need.
 */
import { withAccessHint } from '../core/access.js';
import type { PgflowConnection } from '../core/connection.js';
import { pgflowSql } from '../core/sql-api.js';
import type { FlowRow, Json } from '../core/types.js';
import type { AnyFlow } from '../flow/flow.js';
import { RunNotFoundError, type RunId, type TypedRun } from './runs.js';

/**
 * The flow does not exist in the database.
 *
 * @example
 * ```ts
 * import { FlowNotFoundError, pauseFlow } from 'pgflow-orm';
 *
 * await pauseFlow(pool, 'no_such_flow').catch((error: unknown) => {
 *   if (error instanceof FlowNotFoundError) console.log(error.message);
 * });
 * ```
 */
export class FlowNotFoundError extends Error {
  readonly flowSlug: string;

  constructor(flowSlug: string) {
    super(`flow "${flowSlug}" does not exist`);
    this.name = 'FlowNotFoundError';
    this.flowSlug = flowSlug;
  }
}

/** undefined_object: the engine's "does not exist" for runs and flows. */
const isUndefinedObject = (error: unknown) => (error as { code?: unknown } | null)?.code === '42704';

const slugOf = (flow: AnyFlow | string) => (typeof flow === 'string' ? flow : flow.slug);

/**
 * Cancels a started run: it becomes `cancelled` with `reason`, its queued and
 * started tasks and unfinished steps too, and workers running its tasks have
 * their handlers' signals aborted. Resolves with the cancelled run, or null
 * when there was nothing to do (the run had already completed, failed or
 * been cancelled). Rejects with RunNotFoundError for an unknown run.
 *
 * @example
 * ```ts
 * import { cancelRun } from 'pgflow-orm';
 *
 * const cancelled = await cancelRun(pool, '0193a3b4-0000-7000-8000-000000000000', 'the customer cancelled');
 * console.log(cancelled ? `cancelled at ${cancelled.cancelledAt?.toISOString()}` : 'it had already finished');
 * ```
 */
export async function cancelRun<TOutput = Json, TInput = Json>(
  db: PgflowConnection,
  runId: RunId<TOutput, TInput>,
  reason?: string,
): Promise<TypedRun<TOutput, TInput> | null> {
  try {
    return (await withAccessHint(db, 'admin', 'cancel runs', () => pgflowSql(db).cancelRun(runId, reason))) as TypedRun<TOutput, TInput> | null;
  } catch (error) {
    if (isUndefinedObject(error)) throw new RunNotFoundError(runId);
    throw error;
  }
}

/**
 * Starts a failed or cancelled run again from where it stopped: completed and
 * skipped steps keep their outputs, every other step runs again. Resolves with
 * the run (`started` again), or null when there was nothing to do (the run is
 * started or completed — a concurrent retry got there first, say). Rejects
 * with RunNotFoundError for an unknown run.
 *
 * @example
 * ```ts
 * import { retryRun } from 'pgflow-orm';
 *
 * const retried = await retryRun(pool, '0193a3b4-0000-7000-8000-000000000000');
 * console.log(retried ? `${retried.remainingSteps} steps run again` : 'nothing to retry');
 * ```
 */
export async function retryRun<TOutput = Json, TInput = Json>(db: PgflowConnection, runId: RunId<TOutput, TInput>): Promise<TypedRun<TOutput, TInput> | null> {
  try {
    return (await withAccessHint(db, 'admin', 'retry runs', () => pgflowSql(db).retryRun(runId))) as TypedRun<TOutput, TInput> | null;
  } catch (error) {
    if (isUndefinedObject(error)) throw new RunNotFoundError(runId);
    throw error;
  }
}

/**
 * Pauses a flow: workers start none of its tasks until it is resumed (running
 * ones finish; new runs are still accepted and wait). Resolves with the flow,
 * whose `pausedAt` says since when (pausing a paused flow changes nothing).
 * Rejects with FlowNotFoundError for an unknown flow.
 *
 * @example
 * ```ts
 * import { pauseFlow, resumeFlow } from 'pgflow-orm';
 *
 * const paused = await pauseFlow(pool, 'resize'); // e.g. while a service it calls is down
 * console.log(`paused since ${paused.pausedAt?.toISOString()}`);
 * await resumeFlow(pool, 'resize');
 * ```
 */
export async function pauseFlow(db: PgflowConnection, flow: AnyFlow | string): Promise<FlowRow> {
  return flowCall(slugOf(flow), (slug) => withAccessHint(db, 'admin', `pause flow "${slug}"`, () => pgflowSql(db).pauseFlow(slug)));
}

/**
 * Ends a pause: workers claim the flow's tasks again. Resolves with the flow (`pausedAt` null). Rejects with FlowNotFoundError for an unknown flow.
 *
 * @example
 * ```ts
 * import { resumeFlow } from 'pgflow-orm';
 *
 * const flow = await resumeFlow(pool, 'resize');
 * console.log(flow.pausedAt); // null
 * ```
 */
export async function resumeFlow(db: PgflowConnection, flow: AnyFlow | string): Promise<FlowRow> {
  return flowCall(slugOf(flow), (slug) => withAccessHint(db, 'admin', `resume flow "${slug}"`, () => pgflowSql(db).resumeFlow(slug)));
}

async function flowCall(flowSlug: string, call: (slug: string) => Promise<FlowRow>): Promise<FlowRow> {
  try {
    return await call(flowSlug);
  } catch (error) {
    if (isUndefinedObject(error)) throw new FlowNotFoundError(flowSlug);
    throw error;
  }
}
