/**
 * Path 4: Kysely's Migrator (0.28, `Migrator` from 'kysely') with pgflow's
 * MigrationProvider and the recommended options: install, re-run, `down`,
 * concurrent migrators, and living next to the drizzle paths.
 * (Kysely 0.29's `kysely/migration` is exercised on the packed package.)
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, Migrator, NO_MIGRATIONS, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migratePgflow } from '../../src/drizzle/migrate.js';
import { pgflowMigratorOptions, PgflowMigrationProvider } from '../../src/kysely/migrations.js';
import { bundledSchemaVersion, readMigrations, schemaVersionOf } from '../../src/migrations/index.js';
import { PGFLOW_TABLES, installFacts, packageHistory, useFreshDatabases, type FreshDatabase } from './support/databases.js';
import { defineDiamond, diamondOutput, runStates, startRun, workUntilFinished } from './support/flows.js';

const freshDatabase = useFreshDatabases();
const migrations = readMigrations();
const tags = migrations.map((migration) => migration.tag);
const latest = bundledSchemaVersion();
const instances: Kysely<unknown>[] = [];
afterAll(async () => {
  await Promise.all(instances.map((db) => db.destroy()));
});

function kyselyFor(database: FreshDatabase): Kysely<unknown> {
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 3 }) }) });
  instances.push(db);
  return db;
}

const migratorFor = (db: Kysely<unknown>) => new Migrator(pgflowMigratorOptions(db));

async function expectWorkingInstall(database: FreshDatabase) {
  expect(await installFacts(database)).toMatchObject({ version: latest, schemas: ['pgflow', 'pgmq'], tables: PGFLOW_TABLES });
  const flow = `probe_${Math.random().toString(36).slice(2, 8)}`;
  await defineDiamond(database.pool(), flow);
  const run = await startRun(database.pool(), flow, { n: 1 });
  await workUntilFinished(database.pool(), flow, [run]);
  expect(await runStates(database.pool(), [run])).toEqual([{ run_id: run, status: 'completed', output: diamondOutput }]);
}

async function kyselyHistory(database: FreshDatabase): Promise<string[]> {
  return (await database.query<{ name: string }>(`select name from public.kysely_pgflow_migration order by name`)).map((row) => row.name);
}

const waitingOnPgflowLock = async (database: FreshDatabase) =>
  (
    await database.query<{ waiting: number }>(
      `select count(*)::int as waiting from pg_locks
        where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())
          and objid = (hashtextextended('pgflow-orm:migrations', 0) & 4294967295)::oid`,
    )
  )[0]!.waiting;

describe('Kysely MigrationProvider', () => {
  it('offers the bundled migrations by tag, each with up and down', async () => {
    const offered = await new PgflowMigrationProvider().getMigrations();
    expect(Object.keys(offered)).toEqual(tags);
    for (const migration of Object.values(offered)) {
      expect(typeof migration.up).toBe('function');
      expect(typeof migration.down).toBe('function');
    }
  });

  it('installs pgflow with migrateToLatest, recorded outside schema pgflow, and re-running does nothing', async () => {
    const database = await freshDatabase();
    const db = kyselyFor(database);
    const first = await migratorFor(db).migrateToLatest();
    expect(first.error).toBeUndefined();
    expect(first.results?.map((result) => [result.migrationName, result.status])).toEqual(tags.map((tag) => [tag, 'Success']));
    const second = await migratorFor(db).migrateToLatest();
    expect(second).toEqual({ error: undefined, results: [] });
    expect(await kyselyHistory(database)).toEqual(tags);
    const tables = await database.query<{ schemaname: string; tablename: string }>(
      `select schemaname, tablename from pg_tables where tablename like 'kysely_pgflow%' order by 2`,
    );
    expect(tables).toEqual([
      { schemaname: 'public', tablename: 'kysely_pgflow_migration' },
      { schemaname: 'public', tablename: 'kysely_pgflow_migration_lock' },
    ]);
    expect(await packageHistory(database)).toEqual([]);
    await expectWorkingInstall(database);
  });

  it('removes pgflow cleanly when migrated down, and installs it again', async () => {
    const database = await freshDatabase();
    const db = kyselyFor(database);
    await migratorFor(db).migrateToLatest();
    const flow = 'down_probe';
    await defineDiamond(database.pool(), flow);
    await startRun(database.pool(), flow, { n: 1 });

    const oneDown = await migratorFor(db).migrateDown();
    expect(oneDown.error).toBeUndefined();
    expect(oneDown.results?.map((result) => [result.migrationName, result.direction, result.status])).toEqual([[tags.at(-1), 'Down', 'Success']]);
    // Back to what the earlier migrations install (with a single release: the tables alone), the rows kept.
    const previous = schemaVersionOf(migrations.slice(0, -1));
    expect((await installFacts(database)).version).toBe(previous ?? null);
    if (previous === undefined) expect(await installFacts(database)).toMatchObject({ schemas: ['pgflow'], tables: 7, functions: 0 });
    expect(await database.query(`select flow_slug from pgflow.flows`)).toEqual([{ flow_slug: flow }]);

    const allDown = await migratorFor(db).migrateTo(NO_MIGRATIONS);
    expect(allDown.error).toBeUndefined();
    expect(await installFacts(database)).toMatchObject({ version: null, schemas: [], tables: 0 });
    expect(await database.query(`select typname from pg_type where typnamespace in (select oid from pg_namespace where nspname in ('pgflow', 'pgmq'))`)).toEqual([]);
    expect(await kyselyHistory(database)).toEqual([]);

    const again = await migratorFor(db).migrateToLatest();
    expect(again.error).toBeUndefined();
    await expectWorkingInstall(database);
  });

  it('lets concurrent Kysely migrators on a fresh database install pgflow exactly once', async () => {
    const database = await freshDatabase();
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => migratorFor(kyselyFor(database)).migrateToLatest()));
    expect(outcomes.every((outcome) => outcome.error === undefined)).toBe(true);
    expect(outcomes.filter((outcome) => outcome.results?.length === tags.length)).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.results?.length === 0)).toHaveLength(3);
    expect(await kyselyHistory(database)).toEqual(tags);
    await expectWorkingInstall(database);
  });

  it('waits for migratePgflow racing it on a fresh database, then adopts its install', async () => {
    const database = await freshDatabase();
    const holder = await database.connect();
    await holder.query(`select pg_advisory_lock(hashtextextended('pgflow-orm:migrations', 0))`);
    const drizzleRun = migratePgflow(drizzle(database.pool()));
    await expect.poll(() => waitingOnPgflowLock(database), { timeout: 10_000 }).toBe(1);
    const kyselyRun = migratorFor(kyselyFor(database)).migrateToLatest();
    await expect.poll(() => waitingOnPgflowLock(database), { timeout: 10_000 }).toBe(2);
    await holder.query(`select pg_advisory_unlock(hashtextextended('pgflow-orm:migrations', 0))`);
    expect((await drizzleRun).applied).toEqual(tags);
    const kysely = await kyselyRun;
    expect(kysely.error).toBeUndefined();
    expect(kysely.results?.map((result) => result.status)).toEqual(tags.map(() => 'Success'));
    expect(await packageHistory(database)).toHaveLength(tags.length);
    await expectWorkingInstall(database);
  });

  it('makes migratePgflow racing it on a fresh database fail clearly once it has installed pgflow', async () => {
    const database = await freshDatabase();
    const holder = await database.connect();
    await holder.query(`select pg_advisory_lock(hashtextextended('pgflow-orm:migrations', 0))`);
    const kyselyRun = migratorFor(kyselyFor(database)).migrateToLatest();
    await expect.poll(() => waitingOnPgflowLock(database), { timeout: 10_000 }).toBe(1);
    const drizzleRun = migratePgflow(drizzle(database.pool())).catch((error: unknown) => error);
    await expect.poll(() => waitingOnPgflowLock(database), { timeout: 10_000 }).toBe(2);
    await holder.query(`select pg_advisory_unlock(hashtextextended('pgflow-orm:migrations', 0))`);
    expect((await kyselyRun).error).toBeUndefined();
    expect(String(await drizzleRun)).toMatch(/PgflowMigrationError: pgflow is already installed in this database, .* installed by Kysely's Migrator/);
    expect(await packageHistory(database)).toEqual([]);
    await expectWorkingInstall(database);
  });

  it('adopts an install made through the drizzle paths and keeps that history in step, down to removal', async () => {
    const database = await freshDatabase();
    await migratePgflow(drizzle(database.pool()));
    const flow = 'adopted_flow';
    await defineDiamond(database.pool(), flow);
    const db = kyselyFor(database);
    const adopted = await migratorFor(db).migrateToLatest();
    expect(adopted.error).toBeUndefined();
    expect(adopted.results).toHaveLength(tags.length);
    expect(await database.query(`select flow_slug from pgflow.flows`)).toEqual([{ flow_slug: flow }]);
    expect(await packageHistory(database)).toHaveLength(tags.length);

    expect((await migratorFor(db).migrateTo(NO_MIGRATIONS)).error).toBeUndefined();
    expect(await installFacts(database)).toMatchObject({ version: null, schemas: [] });
    expect(await packageHistory(database)).toEqual([]);
    expect((await migratePgflow(drizzle(database.pool()))).applied).toEqual(tags);
  });

  it("refuses clearly when pgflow came from the app's own drizzle folder", async () => {
    const database = await freshDatabase();
    const client = await database.connect();
    await client.query(`create schema drizzle; create table drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`);
    for (const migration of migrations) {
      for (const statement of migration.statements) await client.query(statement);
      await client.query(`insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)`, [migration.hash, Date.now()]);
    }
    const outcome = await migratorFor(kyselyFor(database)).migrateToLatest();
    expect(String(outcome.error)).toMatch(/pgflow is already installed in this database by the app's own drizzle migrations \(recorded in drizzle\.__drizzle_migrations/);
    expect(await kyselyHistory(database)).toEqual([]);
  });
});
