/**
 * A flow's definition (its steps with their dependencies, types, options and
 * conditions, and whether the flow is paused), its newest runs, and the step
 * statuses of one selected run: what the flow page draws as a graph. Reads
 * the small definition tables by their primary keys, runs through
 * idx_runs_flow_slug or the runs' primary key, step states through their
 * primary key.
 */
import type { SqlExecutor } from '../../../core/connection.js';
import type { FlowData, FlowDefinition, RunSummary, StepStatusSummary } from '../../api-types.js';
import { runSummaryColumns, toRunSummary, type RunSummaryRow } from './run-summary.js';
import { column, readSchemaFeatures, type SchemaFeatures } from './schema-features.js';

/** Recent runs listed on the flow page. */
export const RECENT_RUNS = 15;

export function flowSql(features: SchemaFeatures): string {
  const condition = features.skips
    ? `jsonb_build_object('requiredInputPattern', s.required_input_pattern, 'forbiddenInputPattern', s.forbidden_input_pattern,
                          'whenUnmet', s.when_unmet, 'whenExhausted', s.when_exhausted)`
    : 'null::jsonb';
  return `
select f.flow_slug, f.opt_max_attempts, f.opt_base_delay, f.opt_timeout, f.created_at,
       ${column(features.runControl, 'f.paused_at', 'timestamptz')} as paused_at,
       coalesce((
         select jsonb_agg(jsonb_build_object(
                  'slug', s.step_slug, 'type', s.step_type, 'index', s.step_index,
                  'maxAttempts', s.opt_max_attempts, 'baseDelay', s.opt_base_delay,
                  'timeout', s.opt_timeout, 'startDelay', s.opt_start_delay,
                  'condition', ${condition},
                  'dependsOn', coalesce((select jsonb_agg(d.dep_slug order by ds.step_index)
                                           from pgflow.deps d
                                           join pgflow.steps ds on ds.flow_slug = d.flow_slug and ds.step_slug = d.dep_slug
                                          where d.flow_slug = s.flow_slug and d.step_slug = s.step_slug), '[]'::jsonb))
                order by s.step_index)
           from pgflow.steps s
          where s.flow_slug = f.flow_slug), '[]'::jsonb) as steps
  from pgflow.flows f
 where f.flow_slug = $1::text`;
}

export const recentRunsSql = (features: SchemaFeatures) => `
select ${runSummaryColumns(features)} from pgflow.runs where flow_slug = $1::text order by run_id desc limit ${RECENT_RUNS}`;

export const stepStatusesSql = (features: SchemaFeatures) => `
select step_slug, status, remaining_tasks, initial_tasks, ${column(features.skips, 'skip_reason', 'text')} as skip_reason
  from pgflow.step_states where run_id = $1::uuid`;

interface FlowRow {
  flow_slug: string;
  opt_max_attempts: number;
  opt_base_delay: number;
  opt_timeout: number;
  created_at: Date;
  paused_at: Date | null;
  steps: {
    slug: string;
    type: string;
    index: number;
    maxAttempts: number | null;
    baseDelay: number | null;
    timeout: number | null;
    startDelay: number | null;
    condition: FlowDefinition['steps'][number]['condition'];
    dependsOn: string[];
  }[];
}

/** The flow's definition, or null when there is no such flow. */
export async function readFlowDefinition(db: SqlExecutor, slug: string): Promise<FlowDefinition | null> {
  const [row] = await db.query<FlowRow>(flowSql(await readSchemaFeatures(db)), [slug]);
  if (!row) return null;
  return {
    slug: row.flow_slug,
    options: { maxAttempts: row.opt_max_attempts, baseDelay: row.opt_base_delay, timeout: row.opt_timeout },
    createdAt: new Date(row.created_at).toISOString(),
    pausedAt: row.paused_at === null ? null : new Date(row.paused_at).toISOString(),
    steps: row.steps.map((step) => ({
      slug: step.slug,
      type: step.type,
      index: step.index,
      dependsOn: step.dependsOn,
      options: { maxAttempts: step.maxAttempts, baseDelay: step.baseDelay, timeout: step.timeout, startDelay: step.startDelay },
      condition: step.condition,
    })),
  };
}

/** The step statuses of a run, in no particular order. */
export async function readStepStatuses(db: SqlExecutor, runId: string): Promise<StepStatusSummary[]> {
  const rows = await db.query<{ step_slug: string; status: string; remaining_tasks: number | null; initial_tasks: number | null; skip_reason: string | null }>(
    stepStatusesSql(await readSchemaFeatures(db)),
    [runId],
  );
  return rows.map((row) => ({ slug: row.step_slug, status: row.status, remainingTasks: row.remaining_tasks, initialTasks: row.initial_tasks, skipReason: row.skip_reason }));
}

/**
 * The flow page's data, or null when the flow does not exist. `selectedRunId` (already checked to be
 * a UUID) picks the run whose statuses colour the graph; a run of another flow is not selected.
 */
export async function readFlow(db: SqlExecutor, slug: string, selectedRunId: string | null): Promise<FlowData | null> {
  const flow = await readFlowDefinition(db, slug);
  if (!flow) return null;
  const features = await readSchemaFeatures(db);
  const recentRuns = (await db.query<RunSummaryRow>(recentRunsSql(features), [slug])).map(toRunSummary);
  let selectedRun: FlowData['selectedRun'] = null;
  if (selectedRunId !== null) {
    const [row] = await db.query<RunSummaryRow>(`select ${runSummaryColumns(features)} from pgflow.runs where run_id = $1::uuid and flow_slug = $2::text`, [selectedRunId, slug]);
    if (row) selectedRun = { run: toRunSummary(row), steps: await readStepStatuses(db, selectedRunId) };
  }
  return { flow, recentRuns, selectedRun };
}

export type { RunSummary };
