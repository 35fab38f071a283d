/**
 * `npm run db:functions`: writes the migration that brings the engine's
 * functions and the built-in queue up to date with the sources in src/sql/.
 *
 * It applies the existing migrations to a scratch database, finds the
 * sources that are new or changed (and functions no source defines any
 * more), and writes them as a drizzle-kit custom migration. While the newest
 * functions migration is unreleased it is rewritten in place; otherwise a new
 * one is added with `drizzle-kit generate --custom`. The result is then
 * applied to a fresh database to prove that it installs cleanly. While
 * package.json's version is a released one and the sources match the
 * migrations, it writes nothing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationsFolder, packageRoot, readJournal, readMigrations } from '../../src/migrations/index.js';
import { planFunctionMigration, planIsEmpty } from './plan.js';
import { readReleases, releasedTags } from './releases.js';
import { renderFunctionMigration } from './render.js';
import { applyMigrations, startScratchServer } from './scratch.js';

const FUNCTIONS_SUFFIX = '_functions';

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

function targetTag(version: string): { tag: string; created: boolean } {
  const last = readJournal().at(-1);
  if (last && last.tag.endsWith(FUNCTIONS_SUFFIX) && !releasedTags().has(last.tag)) return { tag: last.tag, created: false };
  const name = `pgflow_${version.replace(/\W/g, '_')}${FUNCTIONS_SUFFIX}`;
  execFileSync('npx', ['drizzle-kit', 'generate', '--custom', `--name=${name}`], { cwd: packageRoot, stdio: 'inherit' });
  const created = readJournal().at(-1);
  if (!created?.tag.endsWith(name)) throw new Error('drizzle-kit did not add the custom migration to the journal');
  return { tag: created.tag, created: true };
}

/** Whether package.json's version is already released (then there is no unreleased migration to write into). */
function versionIsReleased(version: string): boolean {
  return readReleases().releases.some((release) => release.version === version);
}

async function main(): Promise<void> {
  const version = packageVersion();
  const server = await startScratchServer();
  try {
    if (versionIsReleased(version)) {
      // Nothing may be added to a released version: with sources that match the migrations there is nothing to do.
      const pending = await server.withDatabase(async (client) => {
        await applyMigrations(client, readMigrations());
        return planFunctionMigration(client);
      });
      if (planIsEmpty(pending)) {
        console.log(`The migrations already match src/sql/, and ${version} is released: nothing to write.`);
        return;
      }
    }
    const { tag, created } = targetTag(version);
    const earlier = readMigrations().filter((migration) => migration.tag !== tag);
    const plan = await server.withDatabase(async (client) => {
      await applyMigrations(client, earlier);
      return planFunctionMigration(client);
    });
    if (planIsEmpty(plan) && created) {
      console.log('The functions in the migrations already match src/sql/; the new migration only sets pgflow.version().');
    }
    const path = join(migrationsFolder, `${tag}.sql`);
    writeFileSync(path, renderFunctionMigration(version, plan));
    await server.withDatabase(async (client) => {
      await applyMigrations(client, readMigrations());
      const remaining = await planFunctionMigration(client);
      if (!planIsEmpty(remaining)) throw new Error(`after ${tag} the database still differs from src/sql/: ${JSON.stringify(remaining, null, 2)}`);
    });
    const changed = [...plan.queue.functions, ...plan.engine.functions].map((source) => `${source.part}/${source.file}`);
    console.log(`${created ? 'Wrote' : 'Rewrote'} migrations/${tag}.sql for pgflow-orm ${version}:`);
    console.log(`  changed sources: ${changed.length === 0 ? 'none' : changed.join(', ')}`);
    if (plan.dropped.length > 0) console.log(`  dropped functions: ${plan.dropped.join(', ')}`);
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
