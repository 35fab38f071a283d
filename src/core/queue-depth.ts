/**
 * How deep each flow's queue is: messages a worker can read now, messages of
 * tasks a worker is running, messages waiting for a retry's backoff or a
 * start delay, and the age of the oldest readable message. Read by
 * `pgflowSql(db).queueDepths()`, `pgflow-orm status` and the dashboard.
 *
 * The queue tables are found with `to_regclass`, so their names reach the
 * statement quoted by PostgreSQL itself; the flow slugs are parameters. Every
 * count goes through the queue's vt index, and only hidden messages are
 * looked up in `pgflow.step_tasks` (by the flow and message id).
 */
import type { SqlExecutor } from './connection.js';

/** The depth of one flow's queue, at the moment it was read. */
export interface QueueDepth {
  /** The flow, whose slug is also its queue's name. */
  flowSlug: string;
  /** Messages a worker can read now. */
  visible: number;
  /** Messages of started tasks, hidden while a worker runs them. */
  inFlight: number;
  /** Messages hidden until later: retries waiting for their backoff, steps with a start delay. */
  delayed: number;
  /** Age of the oldest visible message in seconds, to a tenth (null when none is visible). */
  oldestVisibleSeconds: number | null;
}

const QUEUES_SQL = `
select f.flow_slug, to_regclass(format('pgmq.%I', 'q_' || lower(f.flow_slug)))::text as queue
  from pgflow.flows f
 where $1::text[] is null or f.flow_slug = any($1::text[])
 order by f.flow_slug`;

/** One union-all branch per queue; `$n` is the flow's slug. */
const depthSql = (queue: string, n: number) => `
select $${n}::text as flow_slug,
       (select count(*) from ${queue} q where q.vt <= now())::int as visible,
       (select extract(epoch from now() - min(q.enqueued_at)) from ${queue} q where q.vt <= now())::float8 as oldest,
       (select count(*) from ${queue} q
         cross join lateral (select 1 from pgflow.step_tasks t
                              where t.flow_slug = $${n}::text and t.message_id = q.msg_id and t.status = 'started' limit 1) started
         where q.vt > now())::int as in_flight,
       (select count(*) from ${queue} q where q.vt > now())::int as hidden`;

/**
 * The queue depth of the given flows (all flows when `flowSlugs` is omitted),
 * in flow-slug order. A flow whose queue table is missing is left out; an
 * unknown slug is too.
 */
export async function readQueueDepths(db: SqlExecutor, flowSlugs?: readonly string[]): Promise<QueueDepth[]> {
  const queues = (await db.query<{ flow_slug: string; queue: string | null }>(QUEUES_SQL, [flowSlugs ? [...flowSlugs] : null])).filter(
    (row): row is { flow_slug: string; queue: string } => row.queue !== null,
  );
  if (queues.length === 0) return [];
  const rows = await db.query<{ flow_slug: string; visible: number; oldest: number | null; in_flight: number; hidden: number }>(
    queues.map((row, index) => depthSql(row.queue, index + 1)).join('\nunion all'),
    queues.map((row) => row.flow_slug),
  );
  return rows.map((row) => ({
    flowSlug: row.flow_slug,
    visible: row.visible,
    inFlight: row.in_flight,
    delayed: Math.max(0, row.hidden - row.in_flight),
    oldestVisibleSeconds: row.oldest === null ? null : Math.max(0, Math.round(row.oldest * 10) / 10),
  }));
}
