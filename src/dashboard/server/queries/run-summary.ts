/**
 * The columns of a run the lists show, and their JSON form. run_id stays a
 * uuid (the drivers return it as text) so ORDER BY run_id can use the primary key.
 */
import type { RunSummary } from '../../api-types.js';

export const RUN_SUMMARY_COLUMNS = 'run_id, flow_slug, status, started_at, completed_at, failed_at, remaining_steps';

export interface RunSummaryRow {
  run_id: string;
  flow_slug: string;
  status: string;
  started_at: Date;
  completed_at: Date | null;
  failed_at: Date | null;
  remaining_steps: number;
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

export function toRunSummary(row: RunSummaryRow): RunSummary {
  return {
    runId: row.run_id,
    flowSlug: row.flow_slug,
    status: row.status,
    startedAt: new Date(row.started_at).toISOString(),
    completedAt: iso(row.completed_at),
    failedAt: iso(row.failed_at),
    remainingSteps: row.remaining_steps,
  };
}
