/** The worker refuses to start against a database without a compatible pgflow schema, and says what to run. */
import { expect, it } from 'vitest';
import { PgflowSchemaVersionError } from '../../src/core/version.js';
import { Flow } from '../../src/flow/index.js';
import { startWorker } from '../../src/worker/index.js';
import { useTestDatabase } from '../support/database.js';
import { memoryLogger } from './support.js';

const db = useTestDatabase({ migrated: false });

it('refuses to start when pgflow is not installed', async () => {
  const flow = new Flow({ slug: 'unmigrated' }).step({ slug: 'a' }, () => 1);
  const error = await startWorker({ connectionString: db.url, flows: [flow], logger: memoryLogger() }).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(PgflowSchemaVersionError);
  expect((error as PgflowSchemaVersionError).problem).toBe('not-installed');
  expect((error as Error).message).toMatch(/pgflow is not installed in this database/);
  // Nothing was created and no connection is left behind.
  expect(await db.query(`select 1 from pg_namespace where nspname = 'pgflow'`)).toEqual([]);
  const [open] = await db.query<{ count: number }>(
    `select count(*)::int as count from pg_stat_activity where datname = $1 and application_name like 'pgflow-orm worker%'`,
    [db.name],
  );
  expect(open?.count).toBe(0);
});
