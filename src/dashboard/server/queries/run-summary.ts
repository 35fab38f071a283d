/**
 * The columns of a run the lists show, and their JSON form. run_id stays a
 * uuid (the drivers return it as text) so ORDER BY run_id can use the primary key.
 */
import type { RunSummary } from '../../api-types.js';
import { column, type SchemaFeatures } from './schema-features.js';

/** The summary's columns, each qualified with `alias.` when one is given. */
export function runSummaryColumns(features: SchemaFeatures, alias = ''): string {
  const prefix = alias === '' ? '' : `${alias}.`;
  return [
    ...['run_id', 'flow_slug', 'status', 'started_at', 'completed_at', 'failed_at', 'remaining_steps'].map((name) => `${prefix}${name}`),
    `${column(features.runControl, `${prefix}cancelled_at`, 'timestamptz')} as cancelled_at`,
  ].join(', ');
}

export interface RunSummaryRow {
  run_id: string;
  flow_slug: string;
  status: string;
  started_at: Date;
  completed_at: Date | null;
  failed_at: Date | null;
  cancelled_at: Date | null;
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
    cancelledAt: iso(row.cancelled_at),
    remainingSteps: row.remaining_steps,
  };
}
