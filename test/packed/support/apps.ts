/**
 * Small apps that install the packed package as users do, next to the
 * peers it supports. Each app is a folder in `test/apps/` with a
 * `package.json` that depends on `"pgflow-orm": "file:pgflow-orm.tgz"` and a
 * committed `package-lock.json` (written by `npm run test:apps:lock`).
 *
 * `PGFLOW_ORM_TEST_APPS` says how an app is installed:
 * - unset or `locked` (the gate): `npm ci` from the committed lockfile, so a
 *   new release on the registry never changes what the tests see;
 * - `latest` (the drift check, `npm run test:latest`): a fresh `npm install`,
 *   without lockfile or flags; every tracked package (the peers, and pg) the
 *   app pins exactly moves to today's release: `latest`, or the newest
 *   pre-release of the next major where it pins one (drizzle 1.0 rc), and
 *   ranges (the examples') resolve as npm resolves them today. The `floor`
 *   app keeps its lockfile: it holds the oldest release of each peer range;
 * - `upgrade:<name>@<version>,…`: the lockfile, then only those packages
 *   upgraded (how the drift check finds which release broke a test).
 *
 * Installed apps are cached beside the tarball; tests never write into them
 * but work in their own folder whose `node_modules` links to the app's.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import semver from 'semver';
import { repoRoot } from '../../support/paths.js';
import { runOk } from '../../support/processes.js';
import { currentReleases, trackedPackages } from './releases.js';
import { once, packedTarball } from './tarball.js';

export const APP_NAMES = ['consumer', 'drizzle-1', 'floor', 'example-drizzle-app', 'example-kysely-app', 'example-dashboard'] as const;
export type AppName = (typeof APP_NAMES)[number];

export interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

export interface Lockfile {
  packages: Record<string, { version?: string; resolved?: string; integrity?: string; dependencies?: Record<string, string>; [key: string]: unknown }>;
  [key: string]: unknown;
}

export const appsFolder = join(repoRoot, 'test', 'apps');
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** How every app depends on the package: the tarball, copied into the app folder under this name. */
export const PACKED_DEPENDENCY = 'file:pgflow-orm.tgz';

/** test/apps/example-<name>/package.json: the example's own manifest with the package taken from the tarball. */
export function exampleAppManifest(example: string): Manifest {
  const manifest = readJson<Manifest>(join(repoRoot, 'examples', example, 'package.json'));
  manifest.dependencies = { ...manifest.dependencies, 'pgflow-orm': PACKED_DEPENDENCY };
  return manifest;
}

export const appManifest = (name: AppName): Manifest => readJson(join(appsFolder, name, 'package.json'));
export const appLockfile = (name: AppName): Lockfile => readJson(join(appsFolder, name, 'package-lock.json'));

/** The version of `pkg` an app's committed lockfile installs. */
export function lockedVersion(name: AppName, pkg: string): string | undefined {
  return appLockfile(name).packages[`node_modules/${pkg}`]?.version;
}

/** The version of `pkg` installed in an app folder. */
export function installedVersion(app: string, pkg: string): string {
  return readJson<{ version: string }>(join(app, 'node_modules', pkg, 'package.json')).version;
}

type Mode = { kind: 'locked' } | { kind: 'latest' } | { kind: 'upgrade'; packages: Record<string, string> };

export function appsMode(): Mode {
  const raw = process.env.PGFLOW_ORM_TEST_APPS ?? 'locked';
  if (raw === 'locked') return { kind: 'locked' };
  if (raw === 'latest') return { kind: 'latest' };
  if (raw.startsWith('upgrade:')) {
    const packages = Object.fromEntries(
      raw
        .slice('upgrade:'.length)
        .split(',')
        .map((spec) => {
          const at = spec.lastIndexOf('@');
          return [spec.slice(0, at), spec.slice(at + 1)];
        }),
    );
    return { kind: 'upgrade', packages };
  }
  throw new Error(`PGFLOW_ORM_TEST_APPS must be "locked", "latest" or "upgrade:<name>@<version>,…" (got ${JSON.stringify(raw)})`);
}

interface InstallPlan {
  mode: Mode['kind'];
  manifest: Manifest;
  /** Packages to install at these versions after `npm ci` (upgrade mode). */
  upgrades: string[];
}

const sections = (manifest: Manifest) => [manifest.dependencies ?? {}, manifest.devDependencies ?? {}];

async function installPlan(name: AppName): Promise<InstallPlan> {
  const mode = appsMode();
  const manifest = appManifest(name);
  if (mode.kind === 'locked' || name === 'floor') return { mode: 'locked', manifest, upgrades: [] };
  if (mode.kind === 'upgrade') {
    const pinned = new Set(sections(manifest).flatMap((deps) => Object.keys(deps).filter((pkg) => semver.valid(deps[pkg]!) !== null)));
    const upgrades = Object.entries(mode.packages)
      .filter(([pkg]) => pinned.has(pkg))
      .map(([pkg, version]) => `${pkg}@${version}`);
    return { mode: upgrades.length > 0 ? 'upgrade' : 'locked', manifest, upgrades };
  }
  const releases = await currentReleases();
  const latest = structuredClone(manifest);
  for (const deps of sections(latest)) {
    for (const pkg of trackedPackages()) {
      const pinned = deps[pkg];
      // A range (an example's `^0.45.0`) resolves as npm resolves it today; an exact pin moves to today's release,
      // or, when it pins a pre-release, to the newest pre-release of the next major.
      if (pinned === undefined || semver.valid(pinned) === null) continue;
      deps[pkg] = (semver.prerelease(pinned) ? releases.next[pkg] : releases.latest[pkg]) ?? pinned;
    }
  }
  return { mode: 'latest', manifest: latest, upgrades: [] };
}

const npmQuiet = ['--no-audit', '--no-fund', '--loglevel=error'];

async function install(name: AppName, plan: InstallPlan, folder: string, tarball: string): Promise<void> {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'package.json'), `${JSON.stringify(plan.manifest, null, 2)}\n`);
  copyFileSync(tarball, join(folder, 'pgflow-orm.tgz'));
  if (plan.mode === 'latest') {
    await runOk('npm', ['install', ...npmQuiet], { cwd: folder });
    return;
  }
  copyFileSync(join(appsFolder, name, 'package-lock.json'), join(folder, 'package-lock.json'));
  try {
    await runOk('npm', ['ci', '--prefer-offline', ...npmQuiet], { cwd: folder });
  } catch (error) {
    throw new Error(`installing test/apps/${name} from its lockfile failed; if its package.json changed, run \`npm run test:apps:lock\`\n${String(error)}`);
  }
  if (plan.upgrades.length > 0) await runOk('npm', ['install', ...npmQuiet, ...plan.upgrades], { cwd: folder });
}

const appPromises = new Map<AppName, Promise<string>>();

/** The folder of an installed app (shared between test files; do not write into it). */
export function installedApp(name: AppName): Promise<string> {
  const cached = appPromises.get(name);
  if (cached) return cached;
  const promise = (async () => {
    const tarball = await packedTarball();
    const plan = await installPlan(name);
    const lockfile = plan.mode === 'latest' ? '' : readFileSync(join(appsFolder, name, 'package-lock.json'), 'utf8');
    const key = createHash('sha256').update(JSON.stringify(plan)).update(lockfile).digest('hex').slice(0, 16);
    // The drift check names its run, so that it installs afresh: transitive dependencies may have moved too.
    const runTag = plan.mode === 'latest' && process.env.PGFLOW_ORM_TEST_RUN ? `-${process.env.PGFLOW_ORM_TEST_RUN}` : '';
    const folder = join(dirname(tarball), `app-${name}-${plan.mode}-${key}${runTag}`);
    await once(join(folder, '.installed'), async () => {
      await install(name, plan, folder, tarball);
      writeFileSync(join(folder, '.installed'), new Date().toISOString());
    });
    if (plan.mode !== 'locked') {
      const versions = trackedPackages()
        .filter((pkg) => existsSync(join(folder, 'node_modules', pkg, 'package.json')))
        .map((pkg) => `${pkg} ${installedVersion(folder, pkg)}`);
      process.stderr.write(`[pgflow-orm apps] ${name} (${plan.mode}): ${versions.join(', ')}\n`);
    }
    return folder;
  })();
  appPromises.set(name, promise);
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
