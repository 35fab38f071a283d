/**
 * One run as the run page shows it: the run with previews of its input and
 * output, every step state, the tasks of every step (at most
 * TASKS_PER_STEP per step: map steps can have thousands), read in one
 * statement so they form one consistent snapshot; the flow's definition;
 * and, for tasks waiting for a retry or a start delay, when their message
 * becomes visible. Also serves a whole JSON value on request.
 *
 * Reads go through primary keys only: runs (run_id), step_states and
 * step_tasks (run_id, ...), the queue's msg_id.
 */
import type { SqlExecutor } from '../../../core/connection.js';
import type { RunDetailData, StepStateDetail, TaskDetail } from '../../api-types.js';
import { badRequest, HttpError, notFound } from '../errors.js';
import { readFlowDefinition } from './flow.js';
import { previewSql, TASK_PREVIEW_LENGTH, toPreview } from './json-preview.js';
import { isUuid } from './run-id-bounds.js';
import { runSummaryColumns, toRunSummary, type RunSummaryRow } from './run-summary.js';
import { column, readSchemaFeatures, type SchemaFeatures } from './schema-features.js';

/** Tasks of one step the run page lists (task_index 0 .. TASKS_PER_STEP - 1). */
export const TASKS_PER_STEP = 200;
/** The largest value the value endpoint sends, in characters of pretty-printed JSON. */
export const MAX_VALUE_LENGTH = 5_000_000;

export function runSql(features: SchemaFeatures): string {
  const skips = (expression: string, type: string) => column(features.skips, expression, type);
  const control = (expression: string, type: string) => column(features.runControl, expression, type);
  return `
select ${runSummaryColumns(features, 'r')},
       ${control('r.cancel_reason', 'text')} as cancel_reason,
       ${previewSql('r.input')} as input,
       ${previewSql('r.output')} as output,
       now() as now,
       coalesce((
         select jsonb_agg(jsonb_build_object(
                  'slug', s.step_slug, 'status', s.status, 'remainingTasks', s.remaining_tasks,
                  'remainingDeps', s.remaining_deps, 'initialTasks', s.initial_tasks, 'createdAt', s.created_at,
                  'startedAt', s.started_at, 'completedAt', s.completed_at, 'failedAt', s.failed_at,
                  'skippedAt', ${skips('s.skipped_at', 'timestamptz')}, 'skipReason', ${skips('s.skip_reason', 'text')},
                  'cancelledAt', ${control('s.cancelled_at', 'timestamptz')},
                  'errorMessage', s.error_message))
           from pgflow.step_states s
          where s.run_id = r.run_id), '[]'::jsonb) as steps,
       coalesce((
         select jsonb_agg(jsonb_build_object(
                  'stepSlug', t.step_slug, 'taskIndex', t.task_index, 'status', t.status,
                  'attemptsCount', t.attempts_count, 'queuedAt', t.queued_at, 'startedAt', t.started_at,
                  'completedAt', t.completed_at, 'failedAt', t.failed_at, 'cancelledAt', ${control('t.cancelled_at', 'timestamptz')},
                  'errorMessage', t.error_message, 'lastWorkerId', t.last_worker_id, 'messageId', t.message_id,
                  'output', ${previewSql('t.output', TASK_PREVIEW_LENGTH)})
                order by t.step_slug, t.task_index)
           from pgflow.step_tasks t
          where t.run_id = r.run_id and t.task_index < ${TASKS_PER_STEP}), '[]'::jsonb) as tasks
  from pgflow.runs r
 where r.run_id = $1::uuid`;
}

interface RunRow extends RunSummaryRow {
  cancel_reason: string | null;
  input: unknown;
  output: unknown;
  now: Date;
  steps: StepStateDetail[];
  tasks: (Omit<TaskDetail, 'output' | 'visibleAt'> & { output: unknown; messageId: number | string | null })[];
}

/** Checks a run id from a URL: a malformed one is a 404 with a message (no such run can exist). */
export function checkRunId(runId: string): string {
  if (!isUuid(runId)) throw notFound(`"${runId}" is not a run id: run ids are UUIDs such as 0190a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b`);
  return runId.toLowerCase();
}

const iso = (value: string | null) => (value === null ? null : new Date(value).toISOString());

export async function readRun(db: SqlExecutor, runId: string): Promise<RunDetailData> {
  const id = checkRunId(runId);
  const [row] = await db.query<RunRow>(runSql(await readSchemaFeatures(db)), [id]);
  if (!row) throw notFound(`there is no run ${id}`);
  const flow = await readFlowDefinition(db, row.flow_slug);
  if (!flow) throw notFound(`the flow "${row.flow_slug}" of run ${id} no longer exists`);
  const visibleAt = await readHiddenMessages(db, row.flow_slug, row.tasks.filter((task) => task.status === 'queued' && task.messageId !== null).map((task) => String(task.messageId)));
  const tasksNotShown: Record<string, number> = {};
  for (const step of row.steps) {
    if (step.initialTasks !== null && step.initialTasks > TASKS_PER_STEP) tasksNotShown[step.slug] = step.initialTasks - TASKS_PER_STEP;
  }
  return {
    run: { ...toRunSummary(row), input: toPreview(row.input)!, output: toPreview(row.output), cancelReason: row.cancel_reason },
    flow,
    steps: row.steps.map((step) => ({
      ...step,
      createdAt: new Date(step.createdAt).toISOString(),
      startedAt: iso(step.startedAt),
      completedAt: iso(step.completedAt),
      failedAt: iso(step.failedAt),
      skippedAt: iso(step.skippedAt),
      cancelledAt: iso(step.cancelledAt),
    })),
    tasks: row.tasks.map(({ messageId, ...task }) => ({
      ...task,
      queuedAt: new Date(task.queuedAt).toISOString(),
      startedAt: iso(task.startedAt),
      completedAt: iso(task.completedAt),
      failedAt: iso(task.failedAt),
      cancelledAt: iso(task.cancelledAt),
      output: toPreview(task.output),
      visibleAt: messageId === null ? null : (visibleAt.get(String(messageId)) ?? null),
    })),
    tasksNotShown,
    now: new Date(row.now).toISOString(),
  };
}

/** When each hidden message among `messageIds` becomes visible (messages visible now are left out). */
async function readHiddenMessages(db: SqlExecutor, flowSlug: string, messageIds: string[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  if (messageIds.length === 0) return result;
  const [queue] = await db.query<{ queue: string | null }>(`select to_regclass(format('pgmq.%I', 'q_' || lower($1::text)))::text as queue`, [flowSlug]);
  if (!queue?.queue) return result;
  // The table name is PostgreSQL's own quoting of an existing table (to_regclass), never user input.
  const rows = await db.query<{ msg_id: string; vt: Date }>(`select msg_id::text, vt from ${queue.queue} where msg_id = any($1::bigint[]) and vt > now()`, [messageIds]);
  for (const row of rows) result.set(row.msg_id, new Date(row.vt).toISOString());
  return result;
}

export type ValuePart = { part: 'input' } | { part: 'output' } | { part: 'task'; stepSlug: string; taskIndex: number };

/** Reads `part`, `step` and `task` of the value endpoint's query. */
export function parseValuePart(params: URLSearchParams): ValuePart {
  const part = params.get('part');
  if (part === 'input' || part === 'output') return { part };
  if (part === 'task') {
    const stepSlug = params.get('step') ?? '';
    const taskIndex = Number(params.get('task'));
    if (stepSlug === '' || !Number.isInteger(taskIndex) || taskIndex < 0) throw badRequest('a task value needs step=<step slug> and task=<task index>');
    return { part, stepSlug, taskIndex };
  }
  throw badRequest(`part must be input, output or task (got "${part ?? ''}")`);
}

/** A whole JSON value of a run, pretty-printed. */
export async function readRunValue(db: SqlExecutor, runId: string, value: ValuePart): Promise<string> {
  const id = checkRunId(runId);
  const rows =
    value.part === 'task'
      ? await db.query<{ length: number | null; text: string | null }>(
          `select length(p.pretty) as length, case when length(p.pretty) <= ${MAX_VALUE_LENGTH} then p.pretty end as text
             from pgflow.step_tasks t cross join lateral (select jsonb_pretty(t.output) as pretty) p
            where t.run_id = $1::uuid and t.step_slug = $2::text and t.task_index = $3::int`,
          [id, value.stepSlug, value.taskIndex],
        )
      : await db.query<{ length: number | null; text: string | null }>(
          `select length(p.pretty) as length, case when length(p.pretty) <= ${MAX_VALUE_LENGTH} then p.pretty end as text
             from pgflow.runs r cross join lateral (select jsonb_pretty(r.${value.part}) as pretty) p
            where r.run_id = $1::uuid`,
          [id],
        );
  const [row] = rows;
  if (!row) throw notFound(value.part === 'task' ? `run ${id} has no task ${value.taskIndex} of step "${value.stepSlug}"` : `there is no run ${id}`);
  if (row.length === null) return 'null';
  if (row.text === null) {
    throw new HttpError(
      413,
      `this value is ${row.length.toLocaleString('en')} characters long, too long to show here; read it with SQL from pgflow.${value.part === 'task' ? 'step_tasks' : 'runs'}`,
    );
  }
  return row.text;
}
