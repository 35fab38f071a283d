/**
 * The package as a user gets it: `npm pack` of a copy of the working tree.
 *
 * Packing takes seconds, so the tarball is cached under the system temp
 * folder, keyed by a hash of everything that goes into the package: the
 * first test file that needs it packs it, under a lock the others wait on,
 * and later test files and test runs reuse it while the sources stay the
 * same. Apps installed from it are cached beside it (see ./apps.ts).
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from '../../support/paths.js';
import { runOk } from '../../support/processes.js';

/** Shared by every test run on the machine; `PGFLOW_ORM_TEST_CACHE` moves it (e.g. to a CI cache folder). */
export const cacheRoot = process.env.PGFLOW_ORM_TEST_CACHE ?? join(tmpdir(), 'pgflow-orm-test-packages');

/** What `npm pack` needs from the working tree (the rest of the package is built from it). */
const PACKAGE_INPUTS = ['package.json', 'README.md', 'schema.ts', 'drizzle.config.ts', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.drizzle-1.json', 'migrations', 'src'];

function listFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => listFiles(join(path, name)));
}

function hashFiles(root: string, inputs: readonly string[]): string {
  const hash = createHash('sha256');
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

/** Runs `build` once across processes: the first caller builds while the others wait for `done` to exist. */
export async function once(done: string, build: () => Promise<void>): Promise<void> {
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

/** The path of the tarball `npm pack` makes of the current working tree (`<cache>/package-<hash>/pgflow-orm.tgz`). */
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
