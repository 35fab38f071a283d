/**
 * The functions in a migrated database equal the current SQL sources: no
 * source is newer than the migrations, and no installed function lacks a
 * source. The second block proves the comparison notices a difference.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planFunctionMigration, planIsEmpty, type FunctionMigrationPlan } from '../../scripts/release/plan.js';
import { useLocalPool } from '../adapters/pool.js';
import { useTestDatabase } from '../support/database.js';

const packageVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** What the plan would change, by file and signature, for readable failures. */
const summary = (plan: FunctionMigrationPlan) => ({
  queue: plan.queue.functions.map((source) => source.file),
  engine: plan.engine.functions.map((source) => source.file),
  dropped: plan.dropped,
  firstInstall: { queue: plan.queue.firstInstall, engine: plan.engine.firstInstall },
});

describe('a database migrated with the bundled migrations', () => {
  const db = useTestDatabase();
  const pool = useLocalPool(db);
  const query = async <R = Record<string, unknown>>(text: string, values?: unknown[]) => (await pool().query(text, values)).rows as R[];

  it('has every function of the current sources, unchanged, and no other', async () => {
    const plan = await planFunctionMigration(await db.connect());
    expect(summary(plan)).toEqual({ queue: [], engine: [], dropped: [], firstInstall: { queue: false, engine: false } });
    expect(planIsEmpty(plan)).toBe(true);
  });

  it("reports the package's version from pgflow.version()", async () => {
    expect(await query('select pgflow.version() as version')).toEqual([{ version: packageVersion }]);
  });

  it('leaves the database as it was (the plan runs in a rolled-back transaction)', async () => {
    const before = await query(`select p.oid::regprocedure::text as signature, p.xmin::text as version from pg_proc p where p.pronamespace in ('pgflow'::regnamespace, 'pgmq'::regnamespace) order by 1`);
    await planFunctionMigration(await db.connect());
    const after = await query(`select p.oid::regprocedure::text as signature, p.xmin::text as version from pg_proc p where p.pronamespace in ('pgflow'::regnamespace, 'pgmq'::regnamespace) order by 1`);
    expect(after).toEqual(before);
  });
});

describe('the comparison notices functions that differ from the sources', () => {
  const db = useTestDatabase();
  const pool = useLocalPool(db);
  const query = async <R = Record<string, unknown>>(text: string, values?: unknown[]) => (await pool().query(text, values)).rows as R[];

  it('a changed body, an extra function and a missing one', async () => {
    await query(`
      create or replace function pgflow.is_valid_slug(slug text) returns boolean language sql immutable set search_path = ''
        as $$ select slug is not null $$`);
    await query(`create function pgflow.leftover() returns int language sql as $$ select 1 $$`);
    await query('drop function pgflow.calculate_retry_delay');
    const plan = await planFunctionMigration(await db.connect());
    expect(summary(plan)).toEqual({
      queue: [],
      engine: ['calculate_retry_delay.sql', 'is_valid_slug.sql'],
      dropped: ['pgflow.leftover()'],
      firstInstall: { queue: false, engine: false },
    });
    expect(planIsEmpty(plan)).toBe(false);
  });
});
