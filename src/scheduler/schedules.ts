/**
 * Reads what the scheduler needs from the database in one query: every
 * schedule (or those of some flows) with the last tick that fired for it —
 * remembered in pgflow.schedule_ticks, not in any process — and the
 * database's clock, so that all schedulers judge "due" by the same clock.
 */
import type { SqlExecutor } from '../core/connection.js';
import type { Json } from '../core/types.js';

/** A schedule as the scheduler reads it: its definition and the latest tick that fired. */
export interface ScheduleState {
  flowSlug: string;
  scheduleName: string;
  cron: string;
  timezone: string;
  input: Json;
  /** When the schedule was created or last changed (schedule_flow): no tick before it fires. */
  updatedAt: Date;
  /** The latest tick recorded in pgflow.schedule_ticks, or null when none has fired. */
  lastTick: Date | null;
}

export interface ScheduleSnapshot {
  /** The database's clock when the schedules were read. */
  now: Date;
  schedules: ScheduleState[];
}

// Timestamps as epoch milliseconds, rounded down: a tick must come strictly after them to be due.
const READ_SCHEDULES = `
select floor(extract(epoch from clock_timestamp()) * 1000)::float8 as now,
  coalesce(jsonb_agg(jsonb_build_object(
    'flow_slug', s.flow_slug,
    'schedule_name', s.schedule_name,
    'cron', s.cron,
    'timezone', s.timezone,
    'input', s.input,
    'updated_at', floor(extract(epoch from s.updated_at) * 1000),
    'last_tick', (
      select floor(extract(epoch from max(t.tick)) * 1000)
      from pgflow.schedule_ticks t
      where t.flow_slug = s.flow_slug and t.schedule_name = s.schedule_name
    )
  ) order by s.flow_slug, s.schedule_name), '[]'::jsonb) as schedules
from pgflow.schedules s
where $1::text[] is null or s.flow_slug = any($1::text[])`;

interface RawSchedule {
  flow_slug: string;
  schedule_name: string;
  cron: string;
  timezone: string;
  input: Json;
  updated_at: number;
  last_tick: number | null;
}

/** The schedules of `flows` (every schedule when null) with their last fired tick, and the database's clock. */
export async function readSchedules(db: SqlExecutor, flows: readonly string[] | null): Promise<ScheduleSnapshot> {
  const [row] = await db.query<{ now: number; schedules: RawSchedule[] }>(READ_SCHEDULES, [flows === null ? null : [...flows]]);
  if (!row) throw new Error('pgflow-orm: reading the schedules returned no row');
  return {
    now: new Date(Number(row.now)),
    schedules: row.schedules.map((raw) => ({
      flowSlug: raw.flow_slug,
      scheduleName: raw.schedule_name,
      cron: raw.cron,
      timezone: raw.timezone,
      input: raw.input,
      updatedAt: new Date(raw.updated_at),
      lastTick: raw.last_tick === null ? null : new Date(raw.last_tick),
    })),
  };
}
