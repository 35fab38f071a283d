/**
 * `--prune-during`: while the workers drain a history measurement, a
 * connection of its own calls `pgflow.prune_batch` in a loop, deleting the
 * history's finished runs (they finished about a day ago, so `older than 12
 * hours` takes them and never a run being measured). Reports how many runs
 * (and their step states, tasks and archived messages) it deleted and how
 * fast, so the drain's steps/s can be compared with the same drain without
 * a prune.
 */
import pg from 'pg';
import { ignoreIdleErrors } from './connections.js';

/** History runs finished a day ago; the runs being measured finish now. */
export const PRUNE_OLDER_THAN = '12 hours';

export interface PruneDuringResult {
  olderThan: string;
  batchSize: number;
  batches: number;
  runs: number;
  stepStates: number;
  tasks: number;
  messages: number;
  /** Seconds the loop was deleting: from its start to the drain's end, or to the batch that found nothing left. */
  seconds: number;
  runsPerSecond: number;
  /** True when the history ran out before the drain ended. */
  exhausted: boolean;
}

export interface PruneLoop {
  /** Stops after the batch in progress and resolves with what the loop deleted. */
  stop(): Promise<PruneDuringResult>;
}

export async function startPruneLoop(url: string, batchSize: number): Promise<PruneLoop> {
  const client = ignoreIdleErrors(new pg.Client({ connectionString: url, application_name: 'pgflow-bench-prune' }));
  await client.connect();
  const totals = { batches: 0, runs: 0, stepStates: 0, tasks: 0, messages: 0 };
  let stopping = false;
  let exhausted = false;
  let endedAt: number | undefined;
  const began = performance.now();
  const loop = (async () => {
    while (!stopping) {
      const { rows } = await client.query<{ pruned_runs: string; pruned_step_states: string; pruned_step_tasks: string; pruned_messages: string }>({
        name: 'bench_prune_batch',
        text: 'select * from pgflow.prune_batch($1::interval, $2::integer)',
        values: [PRUNE_OLDER_THAN, batchSize],
      });
      const batch = rows[0]!;
      if (Number(batch.pruned_runs) === 0) {
        exhausted = true;
        endedAt = performance.now();
        return;
      }
      totals.batches++;
      totals.runs += Number(batch.pruned_runs);
      totals.stepStates += Number(batch.pruned_step_states);
      totals.tasks += Number(batch.pruned_step_tasks);
      totals.messages += Number(batch.pruned_messages);
    }
    endedAt = performance.now();
  })();
  return {
    async stop() {
      stopping = true;
      try {
        await loop;
      } finally {
        await client.end().catch(() => {});
      }
      const seconds = ((endedAt ?? performance.now()) - began) / 1000;
      return { olderThan: PRUNE_OLDER_THAN, batchSize, ...totals, seconds, runsPerSecond: totals.runs / Math.max(seconds, 1e-9), exhausted };
    },
  };
}
