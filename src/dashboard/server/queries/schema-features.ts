/**
 * Which of the columns that later pgflow releases added this database has,
 * so the dashboard reads any installed version: conditions and skipped steps
 * (the steps' patterns and `when_unmet` / `when_exhausted`, a step state's
 * `skip_reason` and `skipped_at`, from release 0.3.0) and run control (`cancelled_at` on runs,
 * step states and tasks, `cancel_reason`, a flow's `paused_at`, from 0.4.0).
 * A column a database lacks is read as NULL, so an older install shows what
 * it has and nothing breaks.
 *
 * The answer is kept for a few seconds per connection: pages are read often,
 * and an upgrade that adds columns is noticed soon after.
 */
import type { SqlExecutor } from '../../../core/connection.js';

export interface SchemaFeatures {
  /** Conditions (steps.required_input_pattern, …, when_exhausted) and skips (step_states.skipped_at, skip_reason). */
  skips: boolean;
  /** runs.cancelled_at and cancel_reason, flows.paused_at, step_states.cancelled_at, step_tasks.cancelled_at. */
  runControl: boolean;
}

/** What the current release has (what the SQL the plan tests check is built for). */
export const CURRENT_FEATURES: SchemaFeatures = { skips: true, runControl: true };

/** How long an answer is kept, in milliseconds. */
const KEEP_MS = 10_000;

const known = new WeakMap<SqlExecutor, { features: SchemaFeatures; readAt: number }>();

const FEATURES_SQL = `
select exists(select 1 from pg_catalog.pg_attribute
               where attrelid = to_regclass('pgflow.step_states') and attname = 'skip_reason' and not attisdropped) as skips,
       exists(select 1 from pg_catalog.pg_attribute
               where attrelid = to_regclass('pgflow.runs') and attname = 'cancelled_at' and not attisdropped)
   and exists(select 1 from pg_catalog.pg_attribute
               where attrelid = to_regclass('pgflow.flows') and attname = 'paused_at' and not attisdropped) as run_control`;

export async function readSchemaFeatures(db: SqlExecutor, now = Date.now()): Promise<SchemaFeatures> {
  const cached = known.get(db);
  if (cached && now - cached.readAt < KEEP_MS) return cached.features;
  const [row] = await db.query<{ skips: boolean; run_control: boolean }>(FEATURES_SQL);
  const features = { skips: row?.skips === true, runControl: row?.run_control === true };
  known.set(db, { features, readAt: now });
  return features;
}

/** `expression`, or a NULL of `type` when the database lacks the feature that column belongs to. */
export const column = (present: boolean, expression: string, type: string): string => (present ? expression : `null::${type}`);
