/**
 * The drift check, `npm run test:latest`: does the package still install and
 * work with what the registry serves today? The gate (`npm test`) installs
 * every app from committed lockfiles and never sees a new release; this check
 * does, on purpose, and fails when one breaks the package for its users.
 *
 * 1. Asks the registry for today's release of every tracked package (the
 *    peers, and pg), and for the newest pre-release of a next major.
 * 2. Runs every `npm install pgflow-orm …` command of the README and the
 *    getting-started pages as written (the package from `npm pack`), in empty
 *    apps, without flags.
 * 3. Runs the packed-package suites (test/packed) with every app installed
 *    afresh at those releases (`PGFLOW_ORM_TEST_APPS=latest`).
 * 4. When a suite fails, runs the failed files again once per release that
 *    differs from the lockfiles, with only that package upgraded, and names
 *    the releases that break them on their own.
 *
 * It prints one line per failure naming the package and version at fault,
 * and exits with 1 when there is any.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';
import { APP_NAMES, appManifest, lockedVersion } from '../packed/support/apps.js';
import { currentReleases, trackedPackages, type Releases } from '../packed/support/releases.js';
import { packedTarball } from '../packed/support/tarball.js';
import { repoRoot } from '../support/paths.js';
import { run } from '../support/processes.js';
import { explainInstallFailure } from './npm-errors.js';

const failures: string[] = [];
const stage = (title: string) => console.log(`\n== test:latest: ${title}`);

/** Each tracked package's versions in the lockfiles, and today's releases next to them. */
function printReleases(releases: Releases): void {
  const rows = trackedPackages().map((pkg) => {
    const locked = [...new Set(APP_NAMES.map((app) => lockedVersion(app, pkg)).filter(Boolean))].join(', ');
    const next = releases.next[pkg] !== releases.latest[pkg] ? releases.next[pkg] : '';
    return [pkg, locked, releases.latest[pkg] ?? '', next ?? ''];
  });
  const table = [['package', 'in the lockfiles', 'latest', 'next (pre-release)'], ...rows];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  for (const row of table) console.log(`  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`.trimEnd());
}

/** The `npm install pgflow-orm …` commands in the README's shell blocks. */
export function readmeInstallCommands(readme: string): string[][] {
  const blocks = [...readme.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].map((match) => match[1]!);
  return blocks
    .flatMap((block) => block.split('\n'))
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => /^npm (install|i) pgflow-orm(\s|$)/.test(line))
    .map((line) => line.split(/\s+/).slice(2));
}

async function tryReadmeInstalls(tarball: string): Promise<void> {
  // The README's and the getting-started pages' commands, each once.
  const pages = ['README.md', ...readdirSync(join(repoRoot, 'docs', 'getting-started')).map((name) => join('docs', 'getting-started', name))];
  const found = pages.flatMap((page) => readmeInstallCommands(readFileSync(join(repoRoot, page), 'utf8')));
  const commands = [...new Map(found.map((args) => [args.join(' '), args])).values()];
  if (commands.length === 0) failures.push('README.md: no `npm install pgflow-orm …` command found to try');
  for (const args of commands) {
    const shown = `npm install ${args.join(' ')}`;
    const app = mkdtempSync(join(tmpdir(), 'pgflow-orm-readme-install-'));
    try {
      writeFileSync(join(app, 'package.json'), '{ "name": "readme-app", "private": true, "type": "module" }\n');
      const installArgs = args.map((arg) => (arg === 'pgflow-orm' ? tarball : arg));
      const result = await run('npm', ['install', '--no-audit', '--no-fund', ...installArgs], { cwd: app });
      if (result.code === 0) {
        const installed = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
        const versions = Object.keys(installed.dependencies ?? {})
          .filter((name) => name !== 'pgflow-orm')
          .map((name) => `${name}@${(JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version}`);
        console.log(`  ok      ${shown}  (${versions.join(', ')})`);
      } else {
        const why = explainInstallFailure(`${result.stdout}\n${result.stderr}`);
        console.log(`  FAILED  ${shown}\n          ${why}`);
        failures.push(`\`${shown}\` (README) fails: ${why}`);
      }
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  }
}

interface VitestReport {
  testResults: { name: string; status: string; assertionResults: { fullName: string; status: string }[] }[];
}

/** Runs vitest with the apps installed as `appsMode` says; resolves with the files that failed (undefined: no report). */
async function runPacked(files: string[], appsMode: string, releases: Releases, quiet = false): Promise<string[] | undefined> {
  const report = join(tmpdir(), `pgflow-orm-latest-${randomBytes(4).toString('hex')}.json`);
  const args = ['vitest', 'run', '--config', 'test/vitest.config.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  // The lockfiles' own consistency is the gate's business.
  args.push('--exclude', 'test/packed/lockfiles.test.ts', ...files);
  const env = {
    ...process.env,
    PGFLOW_ORM_TEST_APPS: appsMode,
    PGFLOW_ORM_TEST_RELEASES: JSON.stringify(releases),
    PGFLOW_ORM_TEST_RUN: randomBytes(4).toString('hex'),
  };
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('npx', args, { cwd: repoRoot, env, stdio: quiet ? 'ignore' : 'inherit' });
    child.on('error', reject);
    child.on('close', (exitCode) => resolve(exitCode ?? 1));
  });
  try {
    const parsed = JSON.parse(readFileSync(report, 'utf8')) as VitestReport;
    return parsed.testResults.filter((file) => file.status !== 'passed').map((file) => file.name);
  } catch {
    return code === 0 ? [] : undefined;
  } finally {
    rmSync(report, { force: true });
  }
}

/** Today's releases that differ from what the apps pin: the suspects when the suites fail with today's releases. */
function changedReleases(releases: Releases): string[] {
  const changed = new Set<string>();
  for (const app of APP_NAMES) {
    if (app === 'floor') continue;
    const manifest = appManifest(app);
    for (const pkg of trackedPackages()) {
      const pinned = manifest.dependencies?.[pkg] ?? manifest.devDependencies?.[pkg];
      if (pinned === undefined || semver.valid(pinned) === null) continue;
      const today = semver.prerelease(pinned) ? releases.next[pkg] : releases.latest[pkg];
      if (today && today !== pinned) changed.add(`${pkg}@${today}`);
    }
  }
  return [...changed].sort();
}

async function bisect(failedFiles: string[], releases: Releases): Promise<void> {
  const suspects = changedReleases(releases);
  const relative = failedFiles.map((file) => file.replace(`${repoRoot}/`, ''));
  if (suspects.length === 0) {
    failures.push(`${relative.join(', ')} fail with today's releases, but every tracked package is at its locked version: a dependency of theirs changed`);
    return;
  }
  const guilty: string[] = [];
  for (const suspect of suspects) {
    console.log(`  trying the lockfiles with only ${suspect} ...`);
    const failed = await runPacked(relative, `upgrade:${suspect}`, releases, true);
    if (failed === undefined || failed.length > 0) {
      guilty.push(suspect);
      failures.push(`${suspect} breaks ${(failed ?? relative).map((file) => file.replace(`${repoRoot}/`, '')).join(', ')} (with every other package at its locked version)`);
    }
  }
  if (guilty.length === 0) {
    failures.push(`${relative.join(', ')} fail with today's releases but with none of ${suspects.join(', ')} alone: several of them together, or a dependency of theirs`);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`test:latest on Node ${process.version}: the package with what the registry serves today`);
  stage("today's releases");
  const releases = await currentReleases();
  printReleases(releases);

  stage('the README’s install commands, as written, in empty apps');
  const tarball = await packedTarball();
  await tryReadmeInstalls(tarball);

  stage('the packed-package suites with every app at today’s releases');
  const failed = await runPacked(['test/packed'], 'latest', releases);
  if (failed === undefined) failures.push('the packed-package suites did not run to the end (see the output above)');
  else if (failed.length > 0) {
    stage('which release breaks them');
    await bisect(failed, releases);
  }

  stage(`result after ${Math.round((Date.now() - started) / 1000)} s`);
  if (failures.length === 0) {
    console.log('  the package installs and passes with every release above');
    return;
  }
  for (const failure of failures) console.log(`  FAIL ${failure}`);
  process.exitCode = 1;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
