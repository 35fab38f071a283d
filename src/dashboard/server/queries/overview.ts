/**
 * The overview: per flow, runs by status over the last hour or day (bucketed
 * for a chart), runs in progress, failure rate, tasks completed per second,
 * queue depth and the oldest visible message's age; and the live and stale
 * workers.
 *
 * Every read goes through an index: the time window through the runs'
 * primary key (see ./run-id-bounds.ts), runs in progress through
 * idx_runs_status, queue depth through each queue's vt index, tasks per
 * second through each archive's archived_at index, workers through
 * idx_workers_heartbeat.
 */
import type { SqlExecutor } from '../../../core/connection.js';
import { readQueueDepths } from '../../../core/queue-depth.js';
import type { FlowOverview, OverviewData, QueueStats, RunCountsByStatus, TimeWindow, WorkerInfo } from '../../api-types.js';
import { readPgflowInfo } from './pgflow-info.js';
import { runIdLowerBound } from './run-id-bounds.js';
import { column, readSchemaFeatures, type SchemaFeatures } from './schema-features.js';

/** Bucket size and count for each window. */
export const WINDOWS: Record<TimeWindow, { bucketSeconds: number; buckets: number }> = {
  hour: { bucketSeconds: 5 * 60, buckets: 12 },
  day: { bucketSeconds: 60 * 60, buckets: 24 },
};

/** A worker without a heartbeat for longer than this is stale. */
export const STALE_AFTER_SECONDS = 60;
/** Workers listed at most (live and stale together). */
export const MAX_LISTED_WORKERS = 100;
/** Tasks per second are counted over this many seconds. */
export const RATE_WINDOW_SECONDS = 60;

interface FlowRow {
  flow_slug: string;
  steps: number;
  paused_at: Date | null;
  queue: string | null;
  archive: string | null;
}

/** The window's start, aligned to whole buckets so the chart does not shift with every refresh. */
export function windowStart(window: TimeWindow, now: Date): Date {
  const { bucketSeconds, buckets } = WINDOWS[window];
  const bucketMs = bucketSeconds * 1000;
  const currentBucket = Math.floor(now.getTime() / bucketMs) * bucketMs;
  return new Date(currentBucket - (buckets - 1) * bucketMs);
}

/** SQL listing the flows with their step count, when they were paused, and the names of their queue and archive tables. */
export const flowsSql = (features: SchemaFeatures) => `
select f.flow_slug,
       (select count(*) from pgflow.steps s where s.flow_slug = f.flow_slug)::int as steps,
       ${column(features.runControl, 'f.paused_at', 'timestamptz')} as paused_at,
       to_regclass(format('pgmq.%I', 'q_' || lower(f.flow_slug)))::text as queue,
       to_regclass(format('pgmq.%I', 'a_' || lower(f.flow_slug)))::text as archive
  from pgflow.flows f
 order by f.flow_slug`;

/** Runs in progress per flow (idx_runs_status). */
export const RUNNING_SQL = `
select flow_slug, count(*)::int as n from pgflow.runs where status = 'started' group by flow_slug`;

/** Runs started in [$2, $3) by flow, status and bucket; $1 is the run-id bound of $2, $4 the bucket length in seconds. */
export const WINDOW_SQL = `
select flow_slug, status,
       floor(extract(epoch from started_at - $2::timestamptz) / $4::int)::int as bucket,
       count(*)::int as n
  from pgflow.runs
 where run_id >= $1::uuid and started_at >= $2::timestamptz and started_at < $3::timestamptz
 group by 1, 2, 3`;

const WORKERS_SQL = `
select worker_id::text, queue_name, function_name, started_at, last_heartbeat_at,
       greatest(0, extract(epoch from now() - last_heartbeat_at))::float8 as age
  from pgflow.workers
 where stopped_at is null and deprecated_at is null
 order by last_heartbeat_at desc
 limit ${MAX_LISTED_WORKERS + 1}`;

const WORKER_COUNT_SQL = `select count(*)::int as n from pgflow.workers where stopped_at is null and deprecated_at is null`;

/**
 * Tasks completed in the last minute of every flow: archived messages whose task completed. The
 * task is looked up per message (LIMIT keeps the lookup a primary-key probe whatever the planner
 * estimates for a freshly filled archive).
 */
function rateSql(flows: readonly FlowRow[]): string {
  return flows
    .map(
      (flow, index) => `
select $${index + 1}::text as flow_slug, count(*)::int as n
  from ${flow.archive} a
  cross join lateral (
    select 1 from pgflow.step_tasks t
     where t.run_id = (a.message ->> 'run_id')::uuid
       and t.step_slug = a.message ->> 'step_slug'
       and t.task_index = (a.message ->> 'task_index')::int
       and t.status = 'completed'
     limit 1) completed
 where a.archived_at > now() - interval '${RATE_WINDOW_SECONDS} seconds'`,
    )
    .join('\nunion all');
}

const toWorker = (row: { worker_id: string; queue_name: string; function_name: string; started_at: Date; last_heartbeat_at: Date; age: number }): WorkerInfo => ({
  workerId: row.worker_id,
  queueName: row.queue_name,
  functionName: row.function_name,
  startedAt: new Date(row.started_at).toISOString(),
  lastHeartbeatAt: new Date(row.last_heartbeat_at).toISOString(),
  heartbeatAgeSeconds: Math.round(row.age * 10) / 10,
});

export async function readOverview(db: SqlExecutor, window: TimeWindow, now = new Date()): Promise<OverviewData> {
  const pgflow = await readPgflowInfo(db);
  const { bucketSeconds, buckets } = WINDOWS[window];
  const since = windowStart(window, now);
  const until = new Date(since.getTime() + buckets * bucketSeconds * 1000);
  const bucketStarts = Array.from({ length: buckets }, (_, index) => new Date(since.getTime() + index * bucketSeconds * 1000).toISOString());
  const empty: OverviewData = {
    generatedAt: now.toISOString(),
    pgflow,
    window,
    buckets: bucketStarts,
    bucketSeconds,
    flows: [],
    workers: { staleAfterSeconds: STALE_AFTER_SECONDS, live: [], stale: [], notListed: 0 },
  };
  if (pgflow.installed === null) return empty;

  const flows = await db.query<FlowRow>(flowsSql(await readSchemaFeatures(db)));
  // One statement after another: the connection may be a single client, and each is a few milliseconds.
  const running = await db.query<{ flow_slug: string; n: number }>(RUNNING_SQL);
  const counted = await db.query<{ flow_slug: string; status: string; bucket: number; n: number }>(WINDOW_SQL, [
    runIdLowerBound(since),
    since.toISOString(),
    until.toISOString(),
    bucketSeconds,
  ]);
  const queues = await readQueues(db, flows.filter((flow) => flow.queue !== null));
  const rates = await readRates(db, flows.filter((flow) => flow.archive !== null));
  const workers = await db.query<{ worker_id: string; queue_name: string; function_name: string; started_at: Date; last_heartbeat_at: Date; age: number }>(WORKERS_SQL);
  const [workerCount] = await db.query<{ n: number }>(WORKER_COUNT_SQL);

  const result: FlowOverview[] = flows.map((flow) => {
    const chart: RunCountsByStatus[] = Array.from({ length: buckets }, () => ({}));
    const windowCounts: RunCountsByStatus = {};
    for (const row of counted) {
      if (row.flow_slug !== flow.flow_slug) continue;
      const bucket = chart[Math.min(Math.max(row.bucket, 0), buckets - 1)]!;
      bucket[row.status] = (bucket[row.status] ?? 0) + row.n;
      windowCounts[row.status] = (windowCounts[row.status] ?? 0) + row.n;
    }
    const finished = (windowCounts.completed ?? 0) + (windowCounts.failed ?? 0);
    const completedTasks = rates.get(flow.flow_slug);
    return {
      slug: flow.flow_slug,
      steps: flow.steps,
      pausedAt: flow.paused_at === null ? null : new Date(flow.paused_at).toISOString(),
      running: running.find((row) => row.flow_slug === flow.flow_slug)?.n ?? 0,
      windowCounts,
      chart,
      failureRate: finished === 0 ? null : (windowCounts.failed ?? 0) / finished,
      tasksPerSecond: completedTasks === undefined ? null : Math.round((completedTasks / RATE_WINDOW_SECONDS) * 100) / 100,
      queue: queues.get(flow.flow_slug) ?? null,
    };
  });

  const listed = workers.slice(0, MAX_LISTED_WORKERS).map(toWorker);
  return {
    ...empty,
    flows: result,
    workers: {
      staleAfterSeconds: STALE_AFTER_SECONDS,
      live: listed.filter((worker) => worker.heartbeatAgeSeconds <= STALE_AFTER_SECONDS),
      stale: listed.filter((worker) => worker.heartbeatAgeSeconds > STALE_AFTER_SECONDS),
      notListed: Math.max(0, (workerCount?.n ?? 0) - listed.length),
    },
  };
}

/** The queue depth of the flows whose queue exists, by flow. */
async function readQueues(db: SqlExecutor, flows: readonly FlowRow[]): Promise<Map<string, QueueStats>> {
  const stats = new Map<string, QueueStats>();
  if (flows.length === 0) return stats;
  for (const { flowSlug, ...depth } of await readQueueDepths(db, flows.map((flow) => flow.flow_slug))) stats.set(flowSlug, depth);
  return stats;
}

async function readRates(db: SqlExecutor, flows: readonly FlowRow[]): Promise<Map<string, number>> {
  const rates = new Map<string, number>();
  if (flows.length === 0) return rates;
  const rows = await db.query<{ flow_slug: string; n: number }>(rateSql(flows), flows.map((flow) => flow.flow_slug));
  for (const row of rows) rates.set(row.flow_slug, row.n);
  return rates;
}
