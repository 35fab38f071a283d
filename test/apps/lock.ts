/**
 * Writes the committed lockfile of every test app (`npm run test:apps:lock`).
 *
 * Each app in test/apps/ installs the packed package as `file:pgflow-orm.tgz`;
 * the apps derived from examples/ get their package.json from the example,
 * with only that dependency replaced. The lockfile is resolved by npm from
 * the current tarball, then the tarball's integrity is dropped from it, so
 * `npm ci` accepts the tarball of every later build of the package.
 *
 *   npm run test:apps:lock                    keep locked versions, follow package.json changes
 *   npm run test:apps:lock -- --fresh floor   resolve the floor app from scratch
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../support/paths.js';
import { runOk } from '../support/processes.js';
import { APP_NAMES, appsFolder, exampleAppManifest, PACKED_DEPENDENCY, type AppName, type Lockfile } from '../packed/support/apps.js';
import { packedTarball } from '../packed/support/tarball.js';


const writeJson = (path: string, value: unknown) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

async function lock(name: AppName, tarball: string, fresh: boolean): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), `pgflow-orm-lock-${name}-`));
  try {
    const target = join(appsFolder, name);
    copyFileSync(join(target, 'package.json'), join(work, 'package.json'));
    copyFileSync(tarball, join(work, 'pgflow-orm.tgz'));
    if (!fresh && existsSync(join(target, 'package-lock.json'))) {
      // Keep every other locked version, but let npm read the tarball's dependencies and peers afresh.
      const previous = JSON.parse(readFileSync(join(target, 'package-lock.json'), 'utf8')) as Lockfile;
      delete previous.packages['node_modules/pgflow-orm'];
      writeJson(join(work, 'package-lock.json'), previous);
    }
    await runOk('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: work });
    const lockfile = JSON.parse(readFileSync(join(work, 'package-lock.json'), 'utf8')) as Lockfile;
    const entry = lockfile.packages['node_modules/pgflow-orm'];
    if (entry?.resolved !== PACKED_DEPENDENCY) throw new Error(`${name}: pgflow-orm is not resolved from ${PACKED_DEPENDENCY} in the new lockfile`);
    delete entry.integrity;
    writeJson(join(target, 'package-lock.json'), lockfile);
    console.log(`test/apps/${name}/package-lock.json`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { fresh: { type: 'boolean', default: false } } });
  const unknown = positionals.filter((name) => !(APP_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`unknown app(s): ${unknown.join(', ')}; the apps are ${APP_NAMES.join(', ')}`);
  for (const example of readdirSync(join(repoRoot, 'examples'))) {
    writeJson(join(appsFolder, `example-${example}`, 'package.json'), exampleAppManifest(example));
  }
  const tarball = await packedTarball();
  const names = positionals.length > 0 ? (positionals as AppName[]) : APP_NAMES;
  for (const name of names) await lock(name, tarball, values.fresh);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
