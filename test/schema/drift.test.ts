/**
 * No drift between schema.ts and a migrated database: drizzle-kit's push
 * diff, run against a database built by the real migrations, finds nothing
 * to change. The second block proves the same check notices a database that
 * differs from schema.ts. (CHECK bodies are invisible to it; see
 * constraints.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { useLocalPool } from '../adapters/pool.js';
import { useTestDatabase } from '../support/database.js';
import { pushDiff, pushDiffOfOthers, TABLE_NAMES, type PushDiff, type TableName } from './push-diff.js';

const NO_CHANGES: PushDiff = { hasDataLoss: false, warnings: [], statementsToExecute: [] };

describe('schema.ts and the migrated database', () => {
  const db = useTestDatabase();
  const pool = useLocalPool(db);
  const query = async <R = Record<string, unknown>>(text: string, values?: unknown[]) => (await pool().query(text, values)).rows as R[];

  it('schema pgflow holds exactly the tables of schema.ts', async () => {
    const rows = await query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'pgflow' order by table_name`,
    );
    expect(rows.map((row) => row.table_name)).toEqual([...TABLE_NAMES].sort());
  });

  it.each(TABLE_NAMES)('drizzle-kit finds nothing to change in pgflow.%s', async (table) => {
    expect(await pushDiff(pool(), table)).toEqual(NO_CHANGES);
  });

  it("leaves the package's migrations table alone: it lives outside schema pgflow", async () => {
    const rows = await query<{ schema: string }>(
      `select table_schema as schema from information_schema.tables where table_name = '__pgflow_migrations'`,
    );
    expect(rows).toEqual([{ schema: 'drizzle' }]);
    // The filter is what keeps it out: with schema drizzle included, push would drop the table.
    const widened = await pushDiffOfOthers(pool(), ['pgflow', 'drizzle'], ['__pgflow_migrations']);
    expect(widened.statementsToExecute).toContainEqual(expect.stringMatching(/DROP TABLE "drizzle"\."__pgflow_migrations"/));
    const filtered = await pushDiffOfOthers(pool(), ['pgflow'], ['__pgflow_migrations']);
    expect(filtered).toEqual(NO_CHANGES);
  });
});

describe('the drift check notices a database that differs from schema.ts', () => {
  const db = useTestDatabase();
  const pool = useLocalPool(db);
  const query = async <R = Record<string, unknown>>(text: string, values?: unknown[]) => (await pool().query(text, values)).rows as R[];

  /** The statements push adds once `alter` has run (compared with the diff before it). */
  async function newStatements(table: TableName, alter: string): Promise<PushDiff> {
    const before = await pushDiff(pool(), table);
    await query(alter);
    const after = await pushDiff(pool(), table);
    return { ...after, statementsToExecute: after.statementsToExecute.filter((statement) => !before.statementsToExecute.includes(statement)) };
  }

  it('a missing index', async () => {
    const diff = await newStatements('runs', 'drop index pgflow.idx_runs_status');
    expect(diff.statementsToExecute).toEqual([expect.stringMatching(/^CREATE INDEX "idx_runs_status" ON "pgflow"\."runs" USING btree \("status"\)/)]);
  });

  it('a missing NOT NULL', async () => {
    const diff = await newStatements('step_tasks', 'alter table pgflow.step_tasks alter column queued_at drop not null');
    expect(diff.statementsToExecute).toEqual(['ALTER TABLE "pgflow"."step_tasks" ALTER COLUMN "queued_at" SET NOT NULL;']);
  });

  it('a changed default', async () => {
    const diff = await newStatements('flows', 'alter table pgflow.flows alter column opt_timeout set default 61');
    expect(diff.statementsToExecute).toEqual(['ALTER TABLE "pgflow"."flows" ALTER COLUMN "opt_timeout" SET DEFAULT 60;']);
  });

  it('a missing foreign key', async () => {
    const diff = await newStatements('step_tasks', 'alter table pgflow.step_tasks drop constraint step_tasks_last_worker_id_fkey');
    expect(diff.statementsToExecute).toEqual([expect.stringMatching(/ADD CONSTRAINT "step_tasks_last_worker_id_fkey" FOREIGN KEY \("last_worker_id"\)/)]);
  });

  it('a missing check constraint (by name only)', async () => {
    const diff = await newStatements('steps', 'alter table pgflow.steps drop constraint steps_deps_count_check');
    expect(diff.statementsToExecute).toEqual([expect.stringMatching(/ADD CONSTRAINT "steps_deps_count_check" CHECK/)]);
  });

  it('but not a check constraint whose body changed (hence constraints.test.ts)', async () => {
    await query('alter table pgflow.steps drop constraint steps_step_type_check');
    const diff = await newStatements('steps', `alter table pgflow.steps add constraint steps_step_type_check check (step_type in ('single', 'map', 'loop'))`);
    expect(diff.statementsToExecute).toEqual([]);
  });

  it('an extra column, as data loss', async () => {
    await query(`insert into pgflow.flows (flow_slug) values ('drift_flow')`);
    await query('alter table pgflow.runs add column note text');
    await query(`insert into pgflow.runs (flow_slug, input, note) values ('drift_flow', '{}', 'x')`);
    const diff = await pushDiff(pool(), 'runs');
    expect(diff.statementsToExecute).toContainEqual(expect.stringMatching(/ALTER TABLE "pgflow"\."runs" DROP COLUMN "note"/));
    expect(diff.hasDataLoss).toBe(true);
  });
});
