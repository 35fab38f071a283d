/**
 * A fresh database on a real Citus cluster for each test file (see
 * ./cluster.ts), with pgflow installed and distributed. The cluster is named
 * by PGFLOW_CITUS_URL (its coordinator, as `../shared/citus/cluster.sh start`
 * prints it); without it every test file fails, so a missing cluster never
 * passes as skipped tests.
 */
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { toExecutor } from '../../src/core/connection.js';
import { applyBundledMigrations } from '../../src/migrations/apply.js';
import { createCitusDatabase, withClient } from './cluster.js';

export { clusterUrl, createCitusDatabase } from './cluster.js';

export interface CitusDatabase {
  readonly name: string;
  /** The coordinator's URL for this database. */
  readonly url: string;
  readonly pool: pg.Pool;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** A dedicated connection to the coordinator, closed after the file. */
  connect(): Promise<pg.Client>;
  /** URLs of this database on the worker nodes. */
  readonly workerUrls: string[];
}

export interface CitusDatabaseOptions {
  /** Install pgflow with the bundled migrations (default true). */
  migrated?: boolean;
  /** Then run pgflow.distribute_on_citus() (default true; implies migrated). */
  distributed?: boolean;
}

export function useCitusDatabase(options: CitusDatabaseOptions = {}): CitusDatabase {
  let created: Awaited<ReturnType<typeof createCitusDatabase>> | undefined;
  let pool: pg.Pool | undefined;
  const clients: pg.Client[] = [];
  const distributed = options.distributed ?? true;
  const migrated = distributed || (options.migrated ?? true);
  const required = () => {
    if (!created) throw new Error('useCitusDatabase: the database is created in beforeAll');
    return created;
  };
  const ignoreTermination = (error: Error & { code?: string }) => {
    if (error.code !== '57P01') throw error;
  };

  beforeAll(async () => {
    created = await createCitusDatabase();
    if (migrated) {
      await withClient(created.url, async (client) => {
        await applyBundledMigrations(toExecutor(client));
        if (distributed) await client.query('select pgflow.distribute_on_citus()');
      });
    }
  }, 300_000);
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
    await pool?.end();
    await created?.drop();
  }, 120_000);

  const database: CitusDatabase = {
    get name() {
      return required().name;
    },
    get url() {
      return required().url;
    },
    get workerUrls() {
      return required().workerUrls;
    },
    get pool() {
      if (!pool) {
        pool = new pg.Pool({ connectionString: required().url, max: 10 });
        pool.on('error', ignoreTermination);
      }
      return pool;
    },
    async query(text, values) {
      return (await database.pool.query(text, values)).rows;
    },
    async connect() {
      const client = new pg.Client({ connectionString: required().url });
      client.on('error', ignoreTermination);
      await client.connect();
      clients.push(client);
      return client;
    },
  };
  return database;
}
