/**
 * `pgflow-orm prune --older-than 30d`: deletes every finished run (completed,
 * failed or cancelled) that finished longer ago than that, with its step
 * states, tasks and archived queue messages, one `pgflow.prune_batch` batch
 * (`--batch-size` runs, one short transaction) at a time, showing progress on
 * stderr and the totals on stdout. `--dry-run` only counts what would go.
 * Safe while workers run: runs in progress are never touched.
 */
import type { Command } from 'commander';
import type { PruneCounts } from '../../core/sql-api.js';
import { countPrunable, pruneRuns } from '../../retention/prune.js';
import type { CliCommand } from '../command.js';
import { withDatabase } from './support/database.js';
import { parseDuration, type Duration } from './support/duration.js';
import { wholeNumber } from './support/options.js';
import { formatDuration, printJson } from './support/output.js';
import { createProgress } from './support/progress.js';

interface PruneCommandOptions {
  olderThan: Duration;
  batchSize: number;
  dryRun?: boolean;
  databaseUrl?: string;
  json?: boolean;
}

const count = (n: number) => n.toLocaleString('en-US');

export function describeCounts(counts: PruneCounts): string {
  return `${count(counts.prunedRuns)} runs, ${count(counts.prunedStepStates)} step states, ${count(counts.prunedStepTasks)} tasks, ${count(counts.prunedMessages)} archived messages`;
}

export const pruneCommand: CliCommand = {
  register(program: Command) {
    program
      .command('prune')
      .description('delete finished runs older than --older-than (with their steps, tasks and archived messages), in batches')
      .requiredOption('--older-than <duration>', 'runs that finished longer ago than this: a number and s, m, h, d or w (30d, 12h, 90m)', parseDuration)
      .option('--batch-size <n>', 'runs deleted per transaction', wholeNumber(1), 10_000)
      .option('--dry-run', 'only count what would be deleted')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--json', 'print the totals as JSON')
      .addHelpText('after', '\nExamples:\n  npx pgflow-orm prune --older-than 30d --dry-run\n  npx pgflow-orm prune --older-than 30d --batch-size 5000')
      .action(async (options: PruneCommandOptions) => {
        const { olderThan } = options;
        await withDatabase(options.databaseUrl, 'pgflow-orm prune', async (client) => {
          const prunable = await countPrunable(client, olderThan.interval);
          if (options.dryRun) {
            if (options.json) printJson({ dryRun: true, olderThan: olderThan.interval, ...prunable });
            else console.log(`would delete ${describeCounts(prunable)} (finished more than ${olderThan.interval} ago)`);
            return;
          }
          const began = performance.now();
          const progress = createProgress({ total: prunable.prunedRuns, unit: 'runs' });
          let totals;
          try {
            totals = await pruneRuns(client, {
              olderThan: olderThan.interval,
              batchSize: options.batchSize,
              onBatch: (batch, sofar) => progress.update(sofar.prunedRuns, `pruned ${count(sofar.prunedRuns)} of about ${count(prunable.prunedRuns)} runs (batch of ${count(batch.prunedRuns)})`),
            });
          } finally {
            progress.stop();
          }
          const seconds = (performance.now() - began) / 1000;
          if (options.json) {
            printJson({ dryRun: false, olderThan: olderThan.interval, ...totals, seconds });
            return;
          }
          console.log(
            totals.prunedRuns === 0
              ? `nothing to prune: no run finished more than ${olderThan.interval} ago`
              : `deleted ${describeCounts(totals)} in ${totals.batches} batch${totals.batches === 1 ? '' : 'es'} (${formatDuration(seconds * 1000)})`,
          );
        });
      });
  },
};
