/**
 * Helpers for tests that hold one connection inside a lock wait to make a race happen in a fixed order.
 */
import type pg from 'pg';

interface Queryable {
  query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
}

/** The backend process id of a connection. */
export const pidOf = async (client: pg.Client): Promise<number> => (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;

/** Resolves once the backend `pid` waits for a lock (read through `db`, another connection); fails after 5 s. */
export async function waitingForLock(db: Queryable, pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [row] = await db.query<{ wait: string | null }>(`select wait_event_type as wait from pg_stat_activity where pid = $1`, [pid]);
    if (row?.wait === 'Lock') return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`backend ${pid} never waited for a lock`);
}
