/**
 * What a CLI command module provides, and helpers the commands share.
 */
import type { Command } from 'commander';
import pg from 'pg';

export interface CliCommand {
  /** Adds the command (and its subcommands) to the program. */
  register(program: Command): void;
}

/** The exit code of a command that found nothing to do (a finished run to cancel, a paused flow to pause). */
export const NOTHING_TO_DO = 2;

/** A mistake the user can fix, or nothing to do; printed as one line. Exits with `exitCode` (default 1). */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number } = {}) {
    super(message);
    this.exitCode = options.exitCode ?? 1;
  }
}

/** `--database-url`, defaulting to `DATABASE_URL`. */
export function resolveDatabaseUrl(option: string | undefined): string {
  const url = option ?? process.env.DATABASE_URL;
  if (!url) throw new CliError('no database: pass --database-url or set DATABASE_URL');
  return url;
}

/** Runs `use` with a connected node-postgres client, closed afterwards. */
export async function withPgClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
