/**
 * Path 3: `await migratePgflow(db)` with Drizzle databases on node-postgres
 * (Pool and Client) and postgres.js, and several app instances starting at
 * once on a fresh database.
 */
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as drizzleMigrate } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePostgresJs } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migratePgflow } from '../../src/drizzle/migrate.js';
import { PgflowMigrationError } from '../../src/migrations/apply.js';
import { bundledSchemaVersion, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, migrationsFolder, readMigrations } from '../../src/migrations/index.js';
import { PGFLOW_TABLES, installFacts, packageHistory, useFreshDatabases, type FreshDatabase } from './support/databases.js';
import { POSTGRES_JS, type PostgresJsSql } from '../support/postgres-js.js';
import { defineDiamond, diamondOutput, runStates, startRun, workUntilFinished } from './support/flows.js';

const freshDatabase = useFreshDatabases();
const migrations = readMigrations();
const latest = bundledSchemaVersion();
const postgresJsClients: PostgresJsSql[] = [];
afterAll(async () => {
  await Promise.all(postgresJsClients.map((sql) => sql.end({ timeout: 1 })));
});

/** The history table holds exactly the bundled migrations, once each, as drizzle's migrator records them. */
async function expectRecordedOnce(database: FreshDatabase) {
  expect(await packageHistory(database)).toEqual(migrations.map((migration) => ({ hash: migration.hash, created_at: String(migration.when) })));
}

async function expectWorkingInstall(database: FreshDatabase) {
  expect(await installFacts(database)).toMatchObject({ version: latest, schemas: ['pgflow', 'pgmq'], tables: PGFLOW_TABLES });
  const flow = `probe_${Math.random().toString(36).slice(2, 8)}`;
  await defineDiamond(database.pool(), flow);
  const run = await startRun(database.pool(), flow, { n: 1 });
  await workUntilFinished(database.pool(), flow, [run]);
  expect(await runStates(database.pool(), [run])).toEqual([{ run_id: run, status: 'completed', output: diamondOutput }]);
}

describe('migratePgflow', () => {
  it('installs pgflow through a node-postgres Pool, then finds nothing left to do', async () => {
    const database = await freshDatabase();
    const db = drizzlePg(database.pool());
    const first = await migratePgflow(db);
    expect(first).toEqual({ applied: migrations.map((migration) => migration.tag), version: latest });
    const second = await migratePgflow(db);
    expect(second).toEqual({ applied: [], version: latest });
    await expectRecordedOnce(database);
    await expectWorkingInstall(database);
  });

  it('installs pgflow through a node-postgres Client', async () => {
    const database = await freshDatabase();
    const client = await database.connect();
    expect((await migratePgflow(drizzlePg(client))).version).toBe(latest);
    await expectRecordedOnce(database);
    const [lock] = await database.query<{ held: number }>(`select count(*)::int as held from pg_locks
       where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`);
    expect(lock!.held).toBe(0);
  });

  it.each(POSTGRES_JS)('installs pgflow through $name', async (driver) => {
    const database = await freshDatabase();
    const sql = driver.connect(database.url, { max: 3, onnotice: () => {} });
    postgresJsClients.push(sql);
    const db = drizzlePostgresJs(sql);
    expect((await migratePgflow(db)).applied).toHaveLength(migrations.length);
    expect((await migratePgflow(db)).applied).toEqual([]);
    await expectRecordedOnce(database);
    await expectWorkingInstall(database);
  });

  it("keeps drizzle's own migrator in agreement: after migratePgflow it applies nothing, and the other way round", async () => {
    const ours = await freshDatabase();
    await migratePgflow(drizzlePg(ours.pool()));
    await drizzleMigrate(drizzlePg(ours.pool()), { migrationsFolder, migrationsTable: MIGRATIONS_TABLE, migrationsSchema: MIGRATIONS_SCHEMA });
    await expectRecordedOnce(ours);

    const theirs = await freshDatabase();
    await drizzleMigrate(drizzlePg(theirs.pool()), { migrationsFolder, migrationsTable: MIGRATIONS_TABLE, migrationsSchema: MIGRATIONS_SCHEMA });
    expect(await migratePgflow(drizzlePg(theirs.pool()))).toEqual({ applied: [], version: latest });
    await expectRecordedOnce(theirs);
  });

  it('lets app instances that start at once on a fresh database install pgflow exactly once', async () => {
    const database = await freshDatabase();
    const instances = 6;
    const pools = Array.from({ length: instances }, () => new pg.Pool({ connectionString: database.url, max: 2 }));
    try {
      // Hold the lock so every instance is waiting on it before any can start.
      const holder = await database.connect();
      await holder.query(`select pg_advisory_lock(hashtextextended('pgflow-orm:migrations', 0))`);
      const results = pools.map((pool) => migratePgflow(drizzlePg(pool)));
      await expect
        .poll(async () => (await database.query<{ waiting: number }>(`select count(*)::int as waiting from pg_locks
             where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`))[0]!.waiting, { timeout: 10_000 })
        .toBe(instances);
      await holder.query(`select pg_advisory_unlock(hashtextextended('pgflow-orm:migrations', 0))`);
      const outcomes = await Promise.all(results);
      expect(outcomes.filter((outcome) => outcome.applied.length === migrations.length)).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome.applied.length === 0)).toHaveLength(instances - 1);
      expect(outcomes.every((outcome) => outcome.version === latest)).toBe(true);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
    await expectRecordedOnce(database);
    await expectWorkingInstall(database);
  });

  it('leaves nothing behind when a migration fails, and says which one', async () => {
    const database = await freshDatabase();
    // An event trigger that fails any DDL once pgflow.runs exists makes the first migration fail half-way.
    await database.query(`create function public.block_pgflow() returns event_trigger language plpgsql as $$
      begin if exists (select 1 from pg_tables where schemaname = 'pgflow' and tablename = 'runs') then raise exception 'blocked for the test'; end if; end $$`);
    await database.query(`create event trigger block_pgflow on ddl_command_end execute function public.block_pgflow()`);
    const failure = await migratePgflow(drizzlePg(database.pool())).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PgflowMigrationError);
    expect((failure as Error).message).toMatch(/pgflow migration 0000_pgflow_tables failed: .*blocked for the test/);
    await database.query(`drop event trigger block_pgflow`);
    expect(await installFacts(database)).toMatchObject({ version: null, schemas: [], tables: 0 });
    expect(await packageHistory(database)).toEqual([]);
    await migratePgflow(drizzlePg(database.pool()));
    await expectRecordedOnce(database);
  });

  it('says how to reinstall when schema pgflow was dropped by hand but its record remains', async () => {
    const database = await freshDatabase();
    const db = drizzlePg(database.pool());
    await migratePgflow(db);
    await database.query(`drop schema pgflow cascade; drop schema pgmq cascade`);
    await expect(migratePgflow(db)).rejects.toThrow(
      /drizzle\.__pgflow_migrations records \d+ pgflow migrations, but schema "pgflow" is missing .*delete from "drizzle"\."__pgflow_migrations"/,
    );
    await database.query(`delete from drizzle.__pgflow_migrations`);
    expect((await migratePgflow(db)).applied).toHaveLength(migrations.length);
    await expectRecordedOnce(database);
  });

  it('refuses clearly when pgflow was installed by another migrator', async () => {
    const database = await freshDatabase();
    const client = await database.connect();
    for (const migration of migrations) for (const statement of migration.statements) await client.query(statement);
    await client.query(`create table public.kysely_pgflow_migration (name varchar(255) primary key, timestamp varchar(255) not null)`);
    for (const migration of migrations) await client.query(`insert into public.kysely_pgflow_migration values ($1, now()::text)`, [migration.tag]);
    await expect(migratePgflow(drizzlePg(client))).rejects.toThrow(
      /pgflow is already installed in this database, but drizzle\.__pgflow_migrations has no record of it: it was installed by Kysely's Migrator/,
    );
  });
});
