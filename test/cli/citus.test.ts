/**
 * `pgflow-orm citus distribute` and pgflow.distribute_on_citus() on a server
 * without Citus (the suite's own PostgreSQL): refused with the reason and
 * what to do, nothing changed; a database without pgflow is named as such.
 * The distribution itself is tested on a real cluster in test/citus/.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { cli } from './support.js';

const db = useTestDatabase();
const empty = useTestDatabase({ migrated: false });

const foreignKeys = async () =>
  db.query<{ name: string }>(
    `select conrelid::regclass::text || '.' || conname as name from pg_constraint c join pg_namespace n on n.oid = c.connamespace
     where n.nspname = 'pgflow' and c.contype = 'f' order by 1`,
  );

describe('pgflow-orm citus distribute without Citus', () => {
  it('is refused with the reason and a hint, and changes nothing', async () => {
    const keys = await foreignKeys();
    expect(keys.length).toBeGreaterThan(5);
    const error = await db.query('select pgflow.distribute_on_citus()').then(
      () => undefined,
      (caught: Error & { code?: string; hint?: string }) => caught,
    );
    expect(error).toMatchObject({ message: 'the citus extension is not installed in this database', code: '0A000' });
    expect(error?.hint).toMatch(/^pgflow\.distribute_on_citus\(\) needs a Citus coordinator: .*CREATE EXTENSION citus/);

    const result = await cli(['citus', 'distribute', '--database-url', db.url]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^pgflow-orm: the citus extension is not installed in this database\npgflow\.distribute_on_citus\(\) needs a Citus coordinator/);
    expect(await foreignKeys()).toEqual(keys);
  });

  it('names a database without pgflow', async () => {
    const result = await cli(['citus', 'distribute', '--database-url', empty.url]);
    expect(result).toMatchObject({ code: 1, stdout: '', stderr: 'pgflow-orm: pgflow is not installed in this database; install it with `pgflow-orm migrate` or your migrator\n' });
  });
});
