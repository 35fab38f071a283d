/**
 * A fresh database for one test file, cloned from the migrated template (or
 * empty, for tests that install pgflow themselves), dropped after the file.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A pool on the database, created on first use and closed after the file. */
  readonly pool: pg.Pool;
  /** Runs one statement on the pool and returns its rows. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** A dedicated connection (for LISTEN, transactions, concurrency), closed after the file. */
  connect(): Promise<pg.Client>;
}

export interface TestDatabaseOptions {
  /** `false` gives an empty database without pgflow installed. Default `true`. */
  migrated?: boolean;
}

export function databaseUrl(name: string): string {
  return inject('pgServer').urlPattern.replace('__DATABASE__', encodeURIComponent(name));
}

/** Runs `run` with a short-lived connection to the server's admin database. */
export async function withAdminClient<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('pgServer').adminUrl });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Creates a database (a template clone when `migrated`) and returns its name. */
export async function createDatabase(migrated: boolean): Promise<string> {
  const name = `pgflow_test_${randomBytes(6).toString('hex')}`;
  const template = migrated ? ` template "${inject('pgServer').templateDatabase}"` : '';
  await withAdminClient((client) => client.query(`create database "${name}"${template}`));
  return name;
}

export async function dropDatabase(name: string): Promise<void> {
  await withAdminClient((client) => client.query(`drop database if exists "${name}" with (force)`));
}

export function useTestDatabase(options: TestDatabaseOptions = {}): TestDatabase {
  let name: string | undefined;
  let pool: pg.Pool | undefined;
  const clients: pg.Client[] = [];
  const required = () => {
    if (name === undefined) throw new Error('useTestDatabase: the database is created in beforeAll; use it inside tests or hooks');
    return name;
  };

  beforeAll(async () => {
    name = await createDatabase(options.migrated ?? true);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
    await pool?.end();
    if (name !== undefined) await dropDatabase(name);
  });

  // Dropping the database terminates connections a test left open; that is expected at teardown.
  const ignoreTermination = (error: Error & { code?: string }) => {
    if (error.code !== '57P01') throw error;
  };

  const database: TestDatabase = {
    get name() {
      return required();
    },
    get url() {
      return databaseUrl(required());
    },
    get pool() {
      if (!pool) {
        pool = new pg.Pool({ connectionString: databaseUrl(required()), max: 10 });
        pool.on('error', ignoreTermination);
      }
      return pool;
    },
    async query(text, values) {
      return (await database.pool.query(text, values)).rows;
    },
    async connect() {
      const client = new pg.Client({ connectionString: databaseUrl(required()) });
      client.on('error', ignoreTermination);
      await client.connect();
      clients.push(client);
      return client;
    },
  };
  return database;
}
