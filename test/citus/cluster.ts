/**
 * Throw-away databases on a Citus cluster, for the Citus tests and `npm run
 * bench -- --citus`: a database created on every node (with the citus
 * extension) and its coordinator told about the same nodes the cluster's
 * database knows (Citus keeps its node list per database).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The coordinator URL of the test cluster (PGFLOW_CITUS_URL), or an error saying how to start one. */
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

export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
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
