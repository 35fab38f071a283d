/**
 * W real connections (one node-postgres Client each), and helpers for loops
 * that share them inside this process.
 */
import pg from 'pg';

export async function openClients(url: string, count: number): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const client = new pg.Client({ connectionString: url, application_name: `pgflow-bench-${i + 1}` });
      ignoreIdleErrors(client);
      await client.connect();
      clients.push(client);
    }
  } catch (error) {
    await closeClients(clients);
    throw error;
  }
  return clients;
}

/**
 * A connection that breaks while idle (the server stopping after Ctrl-C) emits 'error'; failures of
 * queries in flight still reject those queries, so nothing is lost by not throwing here.
 */
export function ignoreIdleErrors(client: pg.Client): pg.Client {
  client.on('error', () => {});
  return client;
}

export async function closeClients(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.map((client) => client.end().catch(() => {})));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seconds since `start` (a performance.now() value). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

/** Runs one loop per client and rethrows the first failure after all loops have stopped. */
export async function runLoops(clients: pg.Client[], loop: (client: pg.Client, index: number) => Promise<void>, onFailure: (error: unknown) => void): Promise<void> {
  const results = await Promise.allSettled(
    clients.map((client, index) =>
      loop(client, index).catch((error: unknown) => {
        onFailure(error);
        throw error;
      }),
    ),
  );
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/** pg returns the current WAL position as text; pg_wal_lsn_diff gives bytes between two of them. */
export async function walPosition(client: pg.Client): Promise<string> {
  const row = (await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0];
  if (!row) throw new Error('pg_current_wal_lsn() returned no row');
  return row.lsn;
}

export async function walBytesSince(client: pg.Client, since: string): Promise<number> {
  const row = (await client.query<{ bytes: string }>('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint::text as bytes', [since])).rows[0];
  return Number(row?.bytes ?? 0);
}
