/**
 * What the demo reports: the summary it reads from pgflow's tables after the
 * runs (runs completed / failed, steps per second, run latency percentiles,
 * retries, per step), and the report as text lines.
 */
import type pg from 'pg';

export interface StepSummary {
  step: string;
  completed: number;
  /** Tasks that needed more than one attempt. */
  retried: number;
  avgMs: number | null;
  p95Ms: number | null;
}

export interface DemoReport {
  ok: boolean;
  /** `embedded PostgreSQL 17` or the redacted URL's host and database. */
  database: string;
  serverVersion: string;
  pgflowVersion: string;
  /** Migrations the demo applied to install pgflow (empty when it was installed already). */
  installed: string[];
  flowSlug: string;
  workers: number;
  concurrency: number;
  runs: { started: number; completed: number; failed: number; unfinished: number };
  steps: {
    completed: number;
    /** Completed steps per second, from the first run's start to the last run's end. */
    perSecond: number | null;
    /** Tasks that needed more than one attempt (attempts_count > 1). */
    retried: number;
    /** Failed attempts the demo's workers saw. */
    failedAttempts: number;
  };
  /** Run latency from pgflow.runs (started_at → completed_at), completed runs only. */
  latencyMs: { p50: number | null; p95: number | null; max: number | null };
  timingsMs: { server: number | null; install: number; workers: number; runs: number; total: number };
  perStep: StepSummary[];
  /** Up to five failed runs with their error. */
  failures: { runId: string; step: string | null; error: string }[];
  /** One completed run's output (an order whose inventory step was retried, when there is one). */
  sample: { runId: string; orderId: string; retried: boolean; output: unknown } | null;
  interrupted: boolean;
  timedOut: boolean;
}

export interface Summary {
  completed: number;
  failed: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  spanMs: number;
  tasksCompleted: number;
  retried: number;
  perStep: StepSummary[];
}

const round = (value: number | null) => (value === null ? null : Math.round(value));

export async function readSummary(pool: pg.Pool, runIds: readonly string[]): Promise<Summary> {
  const [runs] = (
    await pool.query<{ completed: number; failed: number; p50: number | null; p95: number | null; max: number | null; span_ms: number | null }>(
      `select count(*) filter (where status = 'completed')::int as completed,
              count(*) filter (where status = 'failed')::int as failed,
              percentile_cont(0.5) within group (order by extract(epoch from completed_at - started_at)) filter (where status = 'completed') * 1000 as p50,
              percentile_cont(0.95) within group (order by extract(epoch from completed_at - started_at)) filter (where status = 'completed') * 1000 as p95,
              max(extract(epoch from completed_at - started_at)) * 1000 as max,
              extract(epoch from max(coalesce(completed_at, failed_at)) - min(started_at))::float8 * 1000 as span_ms
         from pgflow.runs where run_id = any($1::uuid[])`,
      [runIds],
    )
  ).rows;
  const steps = (
    await pool.query<{ step_slug: string; completed: number; retried: number; avg_ms: number | null; p95_ms: number | null }>(
      `select t.step_slug,
              count(*) filter (where t.status = 'completed')::int as completed,
              count(*) filter (where t.attempts_count > 1)::int as retried,
              avg(extract(epoch from t.completed_at - t.started_at))::float8 * 1000 as avg_ms,
              percentile_cont(0.95) within group (order by extract(epoch from t.completed_at - t.started_at)) * 1000 as p95_ms
         from pgflow.step_tasks t
         join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
        where t.run_id = any($1::uuid[])
        group by t.step_slug, s.step_index
        order by s.step_index`,
      [runIds],
    )
  ).rows;
  return {
    completed: runs?.completed ?? 0,
    failed: runs?.failed ?? 0,
    p50: round(runs?.p50 ?? null),
    p95: round(runs?.p95 ?? null),
    max: round(runs?.max ?? null),
    spanMs: runs?.span_ms ?? 0,
    tasksCompleted: steps.reduce((sum, step) => sum + step.completed, 0),
    retried: steps.reduce((sum, step) => sum + step.retried, 0),
    perStep: steps.map((step) => ({ step: step.step_slug, completed: step.completed, retried: step.retried, avgMs: round(step.avg_ms), p95Ms: round(step.p95_ms) })),
  };
}

const secondsText = (value: number | null) => (value === null ? '-' : `${(value / 1000).toFixed(2)} s`);
const msText = (value: number | null) => (value === null ? '-' : `${value} ms`);

/** The report as text lines. */
export function formatDemoReport(report: DemoReport): string[] {
  const { runs, steps, latencyMs, timingsMs } = report;
  const lines = [
    '',
    `Summary (${report.database.startsWith('embedded') ? 'embedded server' : report.database}, PostgreSQL ${report.serverVersion}, pgflow ${report.pgflowVersion}, ${report.workers} workers × concurrency ${report.concurrency})`,
    `  runs        ${runs.completed} completed, ${runs.failed} failed${runs.unfinished > 0 ? `, ${runs.unfinished} unfinished` : ''} (of ${runs.started} started)`,
    `  steps       ${steps.completed} completed, ${steps.perSecond === null ? '-' : steps.perSecond} steps/s (first run start → last run end)`,
    `  retries     ${steps.retried} task${steps.retried === 1 ? '' : 's'} needed a retry (attempts_count > 1); the workers saw ${steps.failedAttempts} failed attempt${steps.failedAttempts === 1 ? '' : 's'}`,
    `  latency     p50 ${secondsText(latencyMs.p50)}, p95 ${secondsText(latencyMs.p95)}, max ${secondsText(latencyMs.max)} per run (pgflow.runs started_at → completed_at)`,
    `  wall time   ${secondsText(timingsMs.total)} (${[
      timingsMs.server === null ? undefined : `server start ${secondsText(timingsMs.server)}`,
      `install ${secondsText(timingsMs.install)}`,
      `workers ${secondsText(timingsMs.workers)}`,
      `runs ${secondsText(timingsMs.runs)}`,
    ]
      .filter(Boolean)
      .join(', ')})`,
  ];
  if (report.perStep.length > 0) {
    lines.push('', '  step                completed  retried  avg      p95');
    for (const step of report.perStep) {
      lines.push(`  ${step.step.padEnd(20)}${String(step.completed).padEnd(11)}${String(step.retried).padEnd(9)}${msText(step.avgMs).padEnd(9)}${msText(step.p95Ms)}`);
    }
  }
  if (report.sample) {
    lines.push('', `Output of run ${report.sample.runId} (order ${report.sample.orderId}${report.sample.retried ? ', whose reserve_inventory was retried' : ''}):`, `  ${JSON.stringify(report.sample.output)}`);
  }
  if (report.failures.length > 0) {
    lines.push('', 'Failed runs:');
    for (const failure of report.failures) lines.push(`  ${failure.runId}  ${failure.step ?? '?'}: ${failure.error}`);
  }
  if (report.interrupted) lines.push('', 'Interrupted before every run had finished.');
  else if (report.timedOut) lines.push('', `Gave up waiting: ${runs.unfinished} run${runs.unfinished === 1 ? '' : 's'} did not finish in time.`);
  return lines;
}
