/**
 * Starting runs and reading their state through any supported connection
 * (pg, postgres.js, Drizzle, Kysely). Waiting for runs needs LISTEN and lives
 * in ./client.ts.
 */
import { withAccessHint } from '../core/access.js';
import { checkUuid } from '../core/arguments.js';
import { RunCancelledError, RunFailedError, RunNotFoundError } from '../core/errors.js';
import { toExecutor, type PgflowConnection } from '../core/connection.js';
import { toRun, toStepState, toStepTask } from '../core/rows.js';
import { pgflowSql } from '../core/sql-api.js';
import type { Json, RunRow, RunStatus, StepStateRow, StepTaskRow } from '../core/types.js';
import type { AnyFlow, FlowInput, FlowOutput } from '../flow/flow.js';
import { assertJsonSerialisable } from '../flow/json.js';

export { RunCancelledError, RunFailedError, RunNotFoundError } from '../core/errors.js';

declare const runTypes: unique symbol;

/**
 * A run id. Ids returned by startFlow remember the flow's input and output
 * types, so waitForRun and getRun are typed; any string is accepted too.
 */
export type RunId<TOutput = Json, TInput = Json> = string & { readonly [runTypes]?: { output: TOutput; input: TInput } };

/** A run with typed input and output. */
export interface TypedRun<TOutput = Json, TInput = Json> extends Omit<RunRow, 'runId' | 'input' | 'output'> {
  runId: RunId<TOutput, TInput>;
  input: TInput;
  /** The outputs of the leaf steps by slug, once the run has completed. */
  output: TOutput | null;
}

/** The run a startFlow call created. */
export type FlowRun<F extends AnyFlow> = TypedRun<FlowOutput<F>, FlowInput<F>>;

export interface RunDetails<TOutput = Json, TInput = Json> {
  run: TypedRun<TOutput, TInput>;
  /** Step states in the flow's step order. */
  steps: StepStateRow[];
  /** Tasks in the flow's step order. */
  tasks: StepTaskRow[];
}

export interface StartFlowOptions {
  /** Choose the run's id (a UUID); one is generated otherwise. */
  runId?: string;
  /**
   * Start the run at most once per key: a second start of the flow with the same key returns the
   * first run (whatever its state or input) and creates nothing, also when the two race. Pass a
   * runId or a key, not both.
   */
  idempotencyKey?: string;
}

/**
 * Starts a run of `flow` with `input` (typed by the flow) and returns it. The
 * input is a JSON object, or a JSON array for a flow with a root map step
 * (a `.map()` without `array`, which maps over the run input).
 *
 * @example
 * ```ts
 * import { Flow, startFlow } from 'pgflow-orm';
 *
 * const resize = new Flow<{ url: string; width: number }>({ slug: 'resize' }).step({ slug: 'resize' }, ({ run }) => ({ url: run.url }));
 * const run = await startFlow(pool, resize, { url: 'https://example.com/cat.jpg', width: 320 }, { idempotencyKey: 'cat-320' });
 * console.log(run.runId, run.status); // "0193…", "started"
 * ```
 */
export async function startFlow<F extends AnyFlow>(db: PgflowConnection, flow: F, input: FlowInput<F>, options: StartFlowOptions = {}): Promise<FlowRun<F>> {
  checkRunInput(flow, input, `the input of a run of flow "${flow.slug}"`);
  if (options.runId !== undefined && options.idempotencyKey !== undefined) {
    throw new TypeError(`startFlow: pass a runId or an idempotencyKey, not both (the run id of a keyed start is derived from the key)`);
  }
  const run = await withAccessHint(db, 'client', `start a run of flow "${flow.slug}"`, () =>
    pgflowSql(db).startFlow(flow.slug, input as Record<string, unknown> | unknown[], { runId: options.runId, idempotencyKey: options.idempotencyKey }),
  );
  return run as unknown as FlowRun<F>;
}

/**
 * Starts one run of `flow` per input, in one call and one transaction (pgflow.start_flows), and returns
 * the runs in the order of their inputs. Far cheaper per run than startFlow in a loop: one commit for the
 * whole batch. Every input is checked first; when one is not a valid input, no run is started.
 */
export async function startFlows<F extends AnyFlow>(db: PgflowConnection, flow: F, inputs: readonly FlowInput<F>[]): Promise<FlowRun<F>[]> {
  if (!Array.isArray(inputs)) throw new TypeError(`startFlows: inputs must be an array of run inputs of flow "${flow.slug}"`);
  inputs.forEach((input, index) => checkRunInput(flow, input, `input ${index} of the runs of flow "${flow.slug}"`));
  if (inputs.length === 0) return [];
  const runs = await withAccessHint(db, 'client', `start runs of flow "${flow.slug}"`, () =>
    pgflowSql(db).startFlows(flow.slug, inputs as readonly (Record<string, unknown> | unknown[])[]),
  );
  return runs as unknown as FlowRun<F>[];
}

/** A run input must be a JSON object, or a JSON array for a flow with a root map step. */
function checkRunInput(flow: AnyFlow, input: unknown, what: string): void {
  const rootMap = flow.steps.find((step) => step.stepType === 'map' && step.dependsOn.length === 0);
  if (rootMap) {
    if (!Array.isArray(input)) {
      throw new TypeError(`${what} must be a JSON array: its map step "${rootMap.slug}" maps over the run input`);
    }
  } else if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError(`${what} must be a JSON object${Array.isArray(input) ? ' (an array is the input of flows with a root map step)' : ''}`);
  }
  assertJsonSerialisable(input, what);
}

const READ_RUN = `
select
  to_jsonb(r) as run,
  coalesce((
    select jsonb_agg(to_jsonb(s) order by st.step_index)
    from pgflow.step_states s
    join pgflow.steps st on st.flow_slug = s.flow_slug and st.step_slug = s.step_slug
    where s.run_id = r.run_id
  ), '[]'::jsonb) as steps,
  coalesce((
    select jsonb_agg(to_jsonb(t) order by st.step_index, t.task_index)
    from pgflow.step_tasks t
    join pgflow.steps st on st.flow_slug = t.flow_slug and st.step_slug = t.step_slug
    where t.run_id = r.run_id
  ), '[]'::jsonb) as tasks
from pgflow.runs r
where r.run_id = $1::uuid`;

/**
 * The run with its step states and tasks (one consistent snapshot), or null when there is no such run.
 *
 * @example
 * ```ts
 * import { getRun } from 'pgflow-orm';
 *
 * const details = await getRun(pool, '0193a3b4-0000-7000-8000-000000000000');
 * if (details) {
 *   console.log(details.run.status);
 *   for (const step of details.steps) console.log(step.stepSlug, step.status);
 * }
 * ```
 */
export async function getRun<TOutput = Json, TInput = Json>(db: PgflowConnection, runId: RunId<TOutput, TInput>): Promise<RunDetails<TOutput, TInput> | null> {
  const id = checkUuid('getRun', 'runId', runId);
  const [row] = await withAccessHint(db, 'client', 'read runs', () =>
    toExecutor(db).query<{ run: Record<string, unknown>; steps: Record<string, unknown>[]; tasks: Record<string, unknown>[] }>(READ_RUN, [id]),
  );
  if (!row) return null;
  return {
    run: toRun(row.run) as unknown as TypedRun<TOutput, TInput>,
    steps: row.steps.map(toStepState),
    tasks: row.tasks.map(toStepTask),
  };
}

export interface ListRunsOptions {
  /** Only runs of this flow. */
  flow?: AnyFlow | string;
  status?: RunStatus;
  /** At most this many runs (default 20). */
  limit?: number;
  /** Only runs started before this time (for paging: pass the last run's startedAt). */
  startedBefore?: Date;
}

/**
 * Runs, newest first.
 *
 * @example
 * ```ts
 * import { listRuns } from 'pgflow-orm';
 *
 * const failed = await listRuns(pool, { flow: 'resize', status: 'failed', limit: 10 });
 * for (const run of failed) console.log(run.runId, run.failedAt);
 * ```
 */
export async function listRuns(db: PgflowConnection, options: ListRunsOptions = {}): Promise<TypedRun[]> {
  const flowSlug = options.flow === undefined ? null : typeof options.flow === 'string' ? options.flow : options.flow.slug;
  const limit = options.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1) throw new TypeError(`listRuns: limit must be a positive whole number (got ${limit})`);
  const rows = await toExecutor(db).query<Record<string, unknown>>(
    `select * from pgflow.runs r
     where ($1::text is null or r.flow_slug = $1::text)
       and ($2::text is null or r.status = $2::text)
       and ($3::timestamptz is null or r.started_at < $3::timestamptz)
     order by r.started_at desc, r.run_id
     limit $4::integer`,
    [flowSlug, options.status ?? null, options.startedBefore?.toISOString() ?? null, limit],
  );
  return rows.map((row) => toRun(row) as unknown as TypedRun);
}

/** How a run ended, or that it has not yet. */
export type RunOutcome =
  | { status: 'started'; flowSlug: string }
  | { status: 'completed'; flowSlug: string; output: Json | null }
  | { status: 'failed'; flowSlug: string; error: RunFailedError }
  | { status: 'cancelled'; flowSlug: string; error: RunCancelledError };

const READ_OUTCOME = `
select r.flow_slug, r.status, r.output, r.cancel_reason, r.cancelled_at, failure.step_slug, failure.error_message
from pgflow.runs r
left join lateral (
  select s.step_slug, s.error_message
  from pgflow.step_states s
  where s.run_id = r.run_id and s.status = 'failed'
  order by (s.error_message like 'run failed because step %'), s.failed_at, s.step_slug
  limit 1
) failure on r.status = 'failed'
where r.run_id = $1::uuid`;

/**
 * The run's status with its output or failure; null when there is no such run.
 */
export async function readRunOutcome(db: PgflowConnection, runId: string): Promise<RunOutcome | null> {
  const [row] = await toExecutor(db).query<{
    flow_slug: string;
    status: string;
    output: Json | null;
    cancel_reason: string | null;
    cancelled_at: Date | string | null;
    step_slug: string | null;
    error_message: string | null;
  }>(READ_OUTCOME, [checkUuid('readRunOutcome', 'runId', runId)]);
  if (!row) return null;
  if (row.status === 'cancelled') {
    const cancelledAt = row.cancelled_at === null ? null : new Date(row.cancelled_at);
    return { status: 'cancelled', flowSlug: row.flow_slug, error: new RunCancelledError(runId, row.flow_slug, row.cancel_reason, cancelledAt) };
  }
  if (row.status === 'completed') return { status: 'completed', flowSlug: row.flow_slug, output: row.output };
  if (row.status === 'failed') {
    return { status: 'failed', flowSlug: row.flow_slug, error: new RunFailedError(runId, row.flow_slug, row.step_slug, row.error_message ?? 'the run failed') };
  }
  return { status: 'started', flowSlug: row.flow_slug };
}
