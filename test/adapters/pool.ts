/**
 * A pg Pool for one test file that is fully closed before the file's
 * database is dropped. `pool.end()` resolves once it has asked its idle
 * clients to close, not once they have; dropping the database (`with
 * (force)`) right after can then kill a backend that is still closing, and
 * that client reports the termination as an uncaught error. Waiting for
 * every client's `remove` event avoids it.
 */
import pg from 'pg';
import { afterAll } from 'vitest';
import type { TestDatabase } from '../support/database.js';

/** Ends `pool` and waits until each of its connections has closed. */
export async function closePool(pool: pg.Pool): Promise<void> {
  let open = pool.totalCount;
  const closed = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    pool.on('remove', () => {
      open -= 1;
      if (open <= 0) resolve();
    });
  });
  await pool.end();
  await closed;
}

/** A pool on the test database, created on first use; register after `useTestDatabase()` so it closes first. */
export function useLocalPool(db: TestDatabase, max = 5): () => pg.Pool {
  let pool: pg.Pool | undefined;
  afterAll(async () => {
    if (pool) await closePool(pool);
  });
  return () => {
    pool ??= new pg.Pool({ connectionString: db.url, max });
    return pool;
  };
}
