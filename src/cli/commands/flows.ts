/**
 * `pgflow-orm flows pause <slug>` / `flows resume <slug>`: while a flow is
 * paused, workers start none of its tasks (running ones finish, new runs are
 * accepted and wait). Pausing a paused flow, or resuming one that is not
 * paused, says so and exits with 2.
 */
import type { Command } from 'commander';
import type pg from 'pg';
import { FlowNotFoundError, pauseFlow, resumeFlow } from '../../client/control.js';
import type { FlowRow } from '../../core/types.js';
import { CliError, NOTHING_TO_DO, type CliCommand } from '../command.js';
import { withDatabase } from './support/database.js';
import { formatTime, printJson } from './support/output.js';

/** The flow's pause before the call; a one-line error for an unknown flow. */
async function pausedAt(client: pg.Client, slug: string): Promise<Date | null> {
  const { rows } = await client.query<{ paused_at: Date | null }>('select paused_at from pgflow.flows where flow_slug = $1', [slug]);
  if (!rows[0]) throw new CliError(new FlowNotFoundError(slug).message);
  return rows[0].paused_at;
}

/**
 * Reads the flow's pause, and calls `call` unless `done` says the flow is already where it should be
 * (then nothing is changed and no event is sent).
 */
async function operate(
  slug: string,
  databaseUrl: string | undefined,
  done: (before: Date | null) => string | undefined,
  call: (client: pg.Client) => Promise<FlowRow>,
): Promise<{ before: Date | null; flow: FlowRow }> {
  return withDatabase(databaseUrl, 'pgflow-orm flows', async (client) => {
    const before = await pausedAt(client, slug);
    const nothingToDo = done(before);
    if (nothingToDo) throw new CliError(nothingToDo, { exitCode: NOTHING_TO_DO });
    try {
      return { before, flow: await call(client) };
    } catch (error) {
      if (error instanceof FlowNotFoundError) throw new CliError(error.message);
      throw error;
    }
  });
}

export const flowsCommand: CliCommand = {
  register(program: Command) {
    const flows = program.command('flows').description('pause or resume a flow (`flows pause <slug>`, `flows resume <slug>`)');

    flows
      .command('pause')
      .description('pause a flow: workers start none of its tasks until it is resumed (running tasks finish; new runs wait)')
      .argument('<slug>', 'the flow slug')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--json', 'print the flow as JSON')
      .action(async (slug: string, options: { databaseUrl?: string; json?: boolean }) => {
        const { flow } = await operate(
          slug,
          options.databaseUrl,
          (before) => (before ? `flow ${slug} is already paused (since ${formatTime(before)} UTC); nothing to do` : undefined),
          (client) => pauseFlow(client, slug),
        );
        if (options.json) printJson(flow);
        else console.log(`paused flow ${slug}: workers start none of its tasks until \`pgflow-orm flows resume ${slug}\``);
      });

    flows
      .command('resume')
      .description('resume a paused flow: workers claim its tasks again')
      .argument('<slug>', 'the flow slug')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--json', 'print the flow as JSON')
      .action(async (slug: string, options: { databaseUrl?: string; json?: boolean }) => {
        const { before, flow } = await operate(
          slug,
          options.databaseUrl,
          (paused) => (paused ? undefined : `flow ${slug} is not paused; nothing to do`),
          (client) => resumeFlow(client, slug),
        );
        if (options.json) printJson(flow);
        else console.log(`resumed flow ${slug} (paused since ${formatTime(before)} UTC)`);
      });
  },
};
