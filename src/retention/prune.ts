/**
 * Retention: deletes finished runs older than a given age, a batch at a time
 * (pgflow.prune_batch, one short transaction per batch), and counts what a
 * prune would delete without deleting anything. Works through any supported
 * connection; each batch commits on its own, so pass a connection that is not
 * inside a transaction.
 */
import { toExecutor, type PgflowConnection, type SqlExecutor } from '../core/connection.js';
import { pgflowSql, type PruneCounts } from '../core/sql-api.js';

export interface PruneOptions {
  /** A PostgreSQL interval: runs that finished longer ago than this are deleted (e.g. '30 days'). */
  olderThan: string;
  /** Runs per batch (default 10 000). */
  batchSize?: number;
  /** Called after each batch with what it deleted and the totals so far. */
  onBatch?(batch: PruneCounts, totals: PruneCounts): void;
  /** Stops after the batch in progress. */
  signal?: AbortSignal;
}

export interface PruneTotals extends PruneCounts {
  batches: number;
}

const zero = (): PruneCounts => ({ prunedRuns: 0, prunedStepStates: 0, prunedStepTasks: 0, prunedMessages: 0 });

/**
 * Calls pgflow.prune_batch until a batch deletes no run (or `signal` aborts)
 * and resolves with the totals. Runs that another transaction holds are
 * skipped, never waited for.
 *
 * @example
 * ```ts
 * import { pruneRuns } from 'pgflow-orm';
 *
 * const totals = await pruneRuns(pool, {
 *   olderThan: '30 days',
 *   onBatch: (batch) => console.log(`deleted ${batch.prunedRuns} runs`),
 * });
 * console.log(`${totals.prunedRuns} runs pruned`);
 * ```
 */
export async function pruneRuns(db: PgflowConnection, options: PruneOptions): Promise<PruneTotals> {
  const sql = pgflowSql(db);
  const totals = zero();
  let batches = 0;
  while (!options.signal?.aborted) {
    const batch = await sql.pruneBatch(options.olderThan, options.batchSize ?? 10_000);
    if (batch.prunedRuns === 0) break;
    batches++;
    totals.prunedRuns += batch.prunedRuns;
    totals.prunedStepStates += batch.prunedStepStates;
    totals.prunedStepTasks += batch.prunedStepTasks;
    totals.prunedMessages += batch.prunedMessages;
    options.onBatch?.(batch, { ...totals });
  }
  return { ...totals, batches };
}

/**
 * What pruning with `olderThan` would delete now: the runs that pgflow.prune_batch selects (status
 * completed, failed or cancelled, and finished — completed_at, failed_at or cancelled_at — before
 * clock_timestamp() - olderThan), their step states and tasks, and their tasks' messages in the
 * queues' archives. Counted against one cut-off time, computed once, so runs finishing meanwhile do
 * not join; nothing is changed. Runs held by another transaction at prune time would be skipped, so
 * this is an upper bound.
 *
 * @example
 * ```ts
 * import { countPrunable } from 'pgflow-orm';
 *
 * const wouldGo = await countPrunable(pool, '30 days');
 * console.log(`${wouldGo.prunedRuns} runs, ${wouldGo.prunedStepTasks} tasks`);
 * ```
 */
export async function countPrunable(db: PgflowConnection, olderThan: string): Promise<PruneCounts> {
  return countIn(toExecutor(db), olderThan);
}

// The selection of pgflow.prune_batch, against a cut-off computed once.
const DOOMED = `
  select r.run_id from pgflow.runs r
  where r.status in ('completed', 'failed', 'cancelled')
    and coalesce(r.completed_at, r.failed_at, r.cancelled_at) < $1::timestamptz`;

async function countIn(db: SqlExecutor, olderThan: string): Promise<PruneCounts> {
  const [cut] = await db.query<{ cutoff: string; negative: boolean }>(
    `select (clock_timestamp() - $1::interval)::text as cutoff, $1::interval < interval '0' as negative`,
    [olderThan],
  );
  if (cut!.negative) throw new RangeError(`older_than must be an interval of 0 or more, got ${olderThan}`);
  const cutoff = cut!.cutoff;
  const [rows] = await db.query<{ runs: string; step_states: string; step_tasks: string }>(
    `with doomed as materialized (${DOOMED})
     select (select count(*) from doomed) as runs,
            (select count(*) from pgflow.step_states s where s.run_id in (select run_id from doomed)) as step_states,
            (select count(*) from pgflow.step_tasks t where t.run_id in (select run_id from doomed)) as step_tasks`,
    [cutoff],
  );
  // Archived messages, one queue at a time, as prune_batch deletes them: by the tasks' message ids.
  const archives = await db.query<{ flow_slug: string; archive: string | null }>(
    `select distinct t.flow_slug, to_regclass(format('pgmq.%I', pgmq.format_table_name(t.flow_slug, 'a')))::text as archive
     from pgflow.step_tasks t
     where t.message_id is not null and t.run_id in (${DOOMED})`,
    [cutoff],
  );
  let messages = 0;
  for (const { flow_slug, archive } of archives) {
    if (archive === null) continue;
    const [count] = await db.query<{ n: string }>(
      `select count(*) as n from ${archive} a
       where a.msg_id in (select t.message_id from pgflow.step_tasks t where t.flow_slug = $2 and t.message_id is not null and t.run_id in (${DOOMED}))`,
      [cutoff, flow_slug],
    );
    messages += Number(count?.n ?? 0);
  }
  return { prunedRuns: Number(rows!.runs), prunedStepStates: Number(rows!.step_states), prunedStepTasks: Number(rows!.step_tasks), prunedMessages: messages };
}
