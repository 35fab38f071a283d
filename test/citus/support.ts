/**
 * A fresh database on a real Citus cluster for each test file. The cluster is
 * named by PGFLOW_CITUS_URL (its coordinator, as `../shared/citus/cluster.sh
 * start` prints it); without it every test file fails, so a missing cluster
 * never passes as skipped tests.
 *
 * Citus keeps its node list per database, so a fresh database is created on
 * every node (with the citus extension), and the coordinator of the new
 * database is told about the same nodes the cluster's database knows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { toExecutor } from '../../src/core/connection.js';
import { applyBundledMigrations } from '../../src/migrations/apply.js';

export function clusterUrl(): string {
  const url = process.env.PGFLOW_CITUS_URL;
  if (!url) {
    throw new Error(
      'PGFLOW_CITUS_URL is not set: start a cluster with `../shared/citus/cluster.sh start /tmp/citus 57000 2` and pass the URL it prints',
    );
  }
  return url;
}

interface Node {
  host: string;
  port: number;
  coordinator: boolean;
}

function urlFor(base: string, host: string, port: number, database: string): string {
  const url = new URL(base);
  url.hostname = host;
  url.port = String(port);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function clusterNodes(base: string): Promise<Node[]> {
  return withClient(base, async (client) => {
    const { rows } = await client.query<{ nodename: string; nodeport: number; groupid: number }>(
      `select nodename, nodeport, groupid from pg_dist_node where isactive order by groupid`,
    );
    if (!rows.some((row) => row.groupid === 0)) throw new Error(`${base} has no coordinator in pg_dist_node (citus_set_coordinator_host)`);
    if (!rows.some((row) => row.groupid !== 0)) throw new Error(`${base} has no worker nodes (citus_add_node)`);
    return rows.map((row) => ({ host: row.nodename, port: row.nodeport, coordinator: row.groupid === 0 }));
  });
}

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

/** Creates the database on every node of the cluster and registers the nodes; returns the coordinator URL. */
export async function createCitusDatabase(base = clusterUrl()): Promise<{ name: string; url: string; workerUrls: string[]; drop(): Promise<void> }> {
  const nodes = await clusterNodes(base);
  const name = `pgflow_citus_${randomBytes(5).toString('hex')}`;
  const adminDb = new URL(base).pathname.slice(1);
  for (const node of nodes) {
    await withClient(urlFor(base, node.host, node.port, adminDb), (client) => client.query(`create database "${name}"`));
    await withClient(urlFor(base, node.host, node.port, name), (client) => client.query('create extension citus'));
  }
  const coordinator = nodes.find((node) => node.coordinator)!;
  const url = urlFor(base, coordinator.host, coordinator.port, name);
  await withClient(url, async (client) => {
    await client.query('select citus_set_coordinator_host($1, $2)', [coordinator.host, coordinator.port]);
    for (const node of nodes.filter((n) => !n.coordinator)) await client.query('select citus_add_node($1, $2)', [node.host, node.port]);
  });
  const workerUrls = nodes.filter((n) => !n.coordinator).map((node) => urlFor(base, node.host, node.port, name));
  return {
    name,
    url,
    workerUrls,
    async drop() {
      for (const node of [...nodes].reverse()) {
        await withClient(urlFor(base, node.host, node.port, adminDb), (client) => client.query(`drop database if exists "${name}" with (force)`));
      }
    },
  };
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
