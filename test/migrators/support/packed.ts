/**
 * The package as a user gets it: `npm pack` of a copy of the working tree,
 * installed with npm into small temporary apps.
 *
 * Packing and installing take seconds, so the results are cached under the
 * system temp folder, keyed by a hash of everything that goes into the
 * package (and of the app's dependencies): the first test file that needs a
 * tarball or an app builds it, under a lock that the others wait on, and
 * every later test file and test run reuses it while the sources stay the
 * same. Tests never write into a cached app: they work in their own folder
 * whose `node_modules` is a link to the app's.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Shared by every test run on the machine; `PGFLOW_ORM_TEST_CACHE` moves it (e.g. to a CI cache folder). */
const cacheRoot = process.env.PGFLOW_ORM_TEST_CACHE ?? join(tmpdir(), 'pgflow-orm-test-packages');

/** What `npm pack` needs from the working tree (the rest of the package is built from it). */
const PACKAGE_INPUTS = ['package.json', 'README.md', 'schema.ts', 'drizzle.config.ts', 'tsconfig.json', 'tsconfig.build.json', 'migrations', 'src'];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command and resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      { cwd: options.cwd, env: { ...process.env, npm_config_update_notifier: 'false', ...options.env }, timeout: options.timeoutMs ?? 240_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/** Like `run`, but rejects with the output when the command fails. */
export async function runOk(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} (in ${options.cwd}) exited with ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
  }
  return result;
}

function listFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => listFiles(join(path, name)));
}

function hashFiles(root: string, inputs: readonly string[], extra = ''): string {
  const hash = createHash('sha256').update(extra);
  for (const input of inputs) {
    for (const file of listFiles(join(root, input))) {
      hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `build` once across processes: the first caller builds while the others wait for `done`. */
async function once(done: string, build: () => Promise<void>): Promise<void> {
  if (existsSync(done)) return;
  const lock = `${done}.lock`;
  mkdirSync(dirname(done), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      if (existsSync(done)) return;
      const owner = Number(readFileSync(join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      const age = Date.now() - statSync(lock).mtimeMs;
      if ((owner > 0 && !processAlive(owner)) || (owner === 0 && age > 60_000)) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    if (!existsSync(done)) await build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Removes cached packages (and their apps) no test run has used for a day. */
function pruneCache(keep: string): void {
  const dayAgo = Date.now() - 86_400_000;
  for (const name of existsSync(cacheRoot) ? readdirSync(cacheRoot) : []) {
    const folder = join(cacheRoot, name);
    if (folder === keep || !name.startsWith('package-')) continue;
    const marker = join(folder, '.last-used');
    const lastUsed = existsSync(marker) ? statSync(marker).mtimeMs : statSync(folder).mtimeMs;
    if (lastUsed < dayAgo) rmSync(folder, { recursive: true, force: true });
  }
}

let tarballPromise: Promise<string> | undefined;

/** The path of `pgflow-orm-<version>.tgz` packed from the current working tree. */
export function packedTarball(): Promise<string> {
  tarballPromise ??= (async () => {
    const key = hashFiles(repoRoot, PACKAGE_INPUTS);
    const folder = join(cacheRoot, `package-${key}`);
    const tarball = join(folder, 'pgflow-orm.tgz');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, '.last-used'), new Date().toISOString());
    pruneCache(folder);
    await once(tarball, async () => {
      const copy = join(folder, 'tree');
      rmSync(copy, { recursive: true, force: true });
      mkdirSync(copy, { recursive: true });
      for (const input of PACKAGE_INPUTS) {
        if (existsSync(join(repoRoot, input))) cpSync(join(repoRoot, input), join(copy, input), { recursive: true });
      }
      symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'), 'dir');
      const packed = await runOk('npm', ['pack', '--silent', '--pack-destination', folder], { cwd: copy });
      const name = packed.stdout.trim().split('\n').at(-1)!;
      renameSync(join(folder, name), tarball);
      rmSync(copy, { recursive: true, force: true });
    });
    return tarball;
  })();
  return tarballPromise;
}

/** The version of a dependency installed in the repository, to install the same one into test apps. */
export function repoVersion(name: string): string {
  return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface AppSpec {
  /** A short name for the cache folder. */
  name: string;
  /** The app's package.json; `pgflow-orm` is pointed at the packed tarball. */
  packageJson: { dependencies?: Record<string, string>; devDependencies?: Record<string, string>; [key: string]: unknown };
  /** Extra `npm install` flags. */
  npmFlags?: string[];
}

const appPromises = new Map<string, Promise<string>>();

/** An app folder with the packed package and the spec's dependencies installed (shared; do not write into it). */
export function installedApp(spec: AppSpec): Promise<string> {
  const cached = appPromises.get(spec.name);
  if (cached) return cached;
  const promise = (async () => {
    const tarball = await packedTarball();
    const manifest = structuredClone(spec.packageJson);
    for (const field of ['dependencies', 'devDependencies'] as const) {
      if (manifest[field]?.['pgflow-orm'] !== undefined) manifest[field]['pgflow-orm'] = `file:${tarball}`;
    }
    const key = createHash('sha256')
      .update(JSON.stringify({ manifest, flags: spec.npmFlags ?? [], tarball }))
      .digest('hex')
      .slice(0, 16);
    const folder = join(dirname(tarball), `app-${spec.name}-${key}`);
    await once(join(folder, '.installed'), async () => {
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      await runOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...(spec.npmFlags ?? [])], { cwd: folder });
      writeFileSync(join(folder, '.installed'), new Date().toISOString());
    });
    return folder;
  })();
  appPromises.set(spec.name, promise);
  return promise;
}

const workFolders: string[] = [];

/**
 * A fresh folder to work in as the app: `files` copied in (a folder or a map
 * of relative path → content) and `node_modules` linked to the installed app.
 */
export function workFolder(app: string, files?: string | Record<string, string>): string {
  const folder = mkdtempSync(join(tmpdir(), 'pgflow-orm-app-'));
  workFolders.push(folder);
  if (typeof files === 'string') {
    cpSync(files, folder, { recursive: true, filter: (source) => !/[/\\](node_modules|dist)$/.test(source) });
  } else if (files) {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(folder, path)), { recursive: true });
      writeFileSync(join(folder, path), content);
    }
  }
  symlinkSync(join(app, 'node_modules'), join(folder, 'node_modules'), 'dir');
  return folder;
}

/** Removes the folders `workFolder` created (call from afterAll). */
export function removeWorkFolders(): void {
  for (const folder of workFolders.splice(0)) rmSync(folder, { recursive: true, force: true });
}

/** The consumer app most tests use: the packed package next to the drizzle and Kysely toolchains. */
export function consumerApp(): Promise<string> {
  return installedApp({
    name: 'consumer',
    packageJson: {
      name: 'pgflow-orm-consumer',
      private: true,
      type: 'module',
      dependencies: {
        'pgflow-orm': 'tarball',
        'drizzle-orm': repoVersion('drizzle-orm'),
        pg: repoVersion('pg'),
        postgres: repoVersion('postgres'),
        kysely: KYSELY_029,
      },
      devDependencies: {
        'drizzle-kit': repoVersion('drizzle-kit'),
        typescript: repoVersion('typescript'),
        '@types/node': repoVersion('@types/node'),
        '@types/pg': repoVersion('@types/pg'),
      },
    },
  });
}

/** Kysely 0.29, whose Migrator lives in `kysely/migration`. */
export const KYSELY_029 = '0.29.9';

/** drizzle-kit / drizzle-orm 1.0 (release candidate): the folder-per-migration layout. */
export const DRIZZLE_1 = '1.0.0-rc.5-5935859';

export function drizzleOneApp(): Promise<string> {
  return installedApp({
    name: 'drizzle-1',
    packageJson: {
      name: 'pgflow-orm-drizzle-1',
      private: true,
      type: 'module',
      dependencies: { 'pgflow-orm': 'tarball', 'drizzle-orm': DRIZZLE_1, pg: repoVersion('pg') },
      devDependencies: { 'drizzle-kit': DRIZZLE_1 },
    },
    // pgflow-orm's peer range for drizzle-orm does not include 1.0 release candidates.
    npmFlags: ['--legacy-peer-deps'],
  });
}
