/**
 * Empty databases on the test server, as many as a test file needs, dropped
 * after the file together with the pools and clients opened on them.
 */
import { is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll } from 'vitest';
import * as schema from '../../../schema.js';
import { createDatabase, databaseUrl, dropDatabase } from '../../support/database.js';

export interface FreshDatabase {
  name: string;
  url: string;
  /** A pool on the database (closed after the file). */
  pool(): pg.Pool;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** A dedicated connection (closed after the file). */
  connect(): Promise<pg.Client>;
}

export function useFreshDatabases(): () => Promise<FreshDatabase> {
  const names: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await Promise.all(closers.splice(0).map((close) => close().catch(() => {})));
    await Promise.all(names.splice(0).map((name) => dropDatabase(name)));
  });
  return async () => {
    const name = await createDatabase(false);
    names.push(name);
    const url = databaseUrl(name);
    let pool: pg.Pool | undefined;
    const database: FreshDatabase = {
      name,
      url,
      pool() {
        if (!pool) {
          const created = new pg.Pool({ connectionString: url, max: 10 });
          closers.push(() => created.end());
          pool = created;
        }
        return pool;
      },
      async query(text, values) {
        return (await database.pool().query(text, values)).rows;
      },
      async connect() {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        closers.push(() => client.end());
        return client;
      },
    };
    return database;
  };
}

/** What a correct install looks like, for assertions: the version, the schemas and the recorded history. */
/** How many tables an install puts in schema pgflow: every table schema.ts declares. */
export const PGFLOW_TABLES = Object.values(schema).filter((value) => is(value, PgTable)).length;

export async function installFacts(database: FreshDatabase) {
  const [probe] = await database.query<{ present: boolean }>(`select to_regprocedure('pgflow.version()') is not null as present`);
  const [row] = await database.query<{ version: string | null; schemas: string[]; tables: number; functions: number }>(
    `select ${probe!.present ? 'pgflow.version()' : 'null::text'} as version,
            array(select nspname::text from pg_namespace where nspname in ('pgflow', 'pgmq') order by 1) as schemas,
            (select count(*)::int from pg_tables where schemaname = 'pgflow') as tables,
            (select count(*)::int from pg_proc where pronamespace = to_regnamespace('pgflow')) as functions`,
  );
  return row!;
}

/** The package history table's rows, oldest first (empty when the table does not exist). */
export async function packageHistory(database: FreshDatabase): Promise<{ hash: string; created_at: string }[]> {
  const [probe] = await database.query<{ present: boolean }>(`select to_regclass('drizzle.__pgflow_migrations') is not null as present`);
  if (!probe?.present) return [];
  return database.query(`select hash, created_at::text from drizzle.__pgflow_migrations order by id`);
}
