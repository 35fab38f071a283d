/**
 * Paths 1 and 2 as a user runs them: the package from `npm pack`, installed
 * with npm next to drizzle-kit, drizzle-orm and pg, and the real CLIs.
 *
 * 1. `npx drizzle-kit migrate --config node_modules/pgflow-orm/drizzle.config.ts` (drizzle-kit 0.31,
 *    and 0.31.10, the oldest release of the peer range)
 * 2. `npx pgflow-orm drizzle add --out ./drizzle` then the app's `npx drizzle-kit migrate`
 *    (drizzle-kit 0.31 journal layout, and drizzle-kit 1.0's folder-per-migration layout).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePgflow } from '../../src/drizzle/migrate.js';
import { bundledSchemaVersion, migrationsFolder, packageVersion, readMigrations } from '../../src/migrations/index.js';
import { PGFLOW_TABLES, installFacts, packageHistory, useFreshDatabases, type FreshDatabase } from '../migrators/support/databases.js';
import { defineDiamond, diamondOutput, runStates, startRun, workUntilFinished } from '../migrators/support/flows.js';
import { run, runOk } from '../support/processes.js';
import { installedApp, removeWorkFolders, workFolder, type AppName } from './support/apps.js';
import { packedTarball } from './support/tarball.js';

const freshDatabase = useFreshDatabases();
const migrations = readMigrations();
const latest = bundledSchemaVersion();
afterAll(removeWorkFolders);

const APP_SCHEMA = `import { pgTable, serial, text } from 'drizzle-orm/pg-core';

export const notes = pgTable('notes', {
  id: serial('id').primaryKey(),
  body: text('body').notNull(),
});
`;

const APP_CONFIG = `import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema.ts',
  out: './drizzle',
  schemaFilter: ['public'],
  dbCredentials: { url: process.env.DATABASE_URL! },
});
`;

const appFiles = { 'package.json': '{ "name": "app", "private": true, "type": "module" }\n', 'drizzle.config.ts': APP_CONFIG, 'src/schema.ts': APP_SCHEMA };

/**
 * Runs an installed bin as `npx <bin> ...` does. The commands the README documents go through
 * npx itself (`viaNpx`); the others call `node_modules/.bin/<bin>` directly, which is quicker.
 */
const exec = (cwd: string, [bin, ...args]: string[], database: FreshDatabase | undefined, viaNpx: boolean) =>
  viaNpx
    ? run('npx', ['--no-install', bin!, ...args], { cwd, env: database ? { DATABASE_URL: database.url } : {} })
    : run(join(cwd, 'node_modules', '.bin', bin!), args, { cwd, env: database ? { DATABASE_URL: database.url } : {} });

async function npxOk(cwd: string, args: string[], database?: FreshDatabase, viaNpx = false): Promise<string> {
  const result = await exec(cwd, args, database, viaNpx);
  if (result.code !== 0) throw new Error(`npx ${args.join(' ')} exited with ${result.code}\n${result.stdout}\n${result.stderr}`);
  return `${result.stdout}${result.stderr}`
    .split('\n')
    .filter((line) => !line.startsWith('npm warn'))
    .join('\n');
}

async function expectWorkingInstall(database: FreshDatabase) {
  expect(await installFacts(database)).toMatchObject({ version: latest, schemas: ['pgflow', 'pgmq'], tables: PGFLOW_TABLES });
  const flow = `probe_${Math.random().toString(36).slice(2, 8)}`;
  await defineDiamond(database.pool(), flow);
  const runId = await startRun(database.pool(), flow, { n: 1 });
  await workUntilFinished(database.pool(), flow, [runId]);
  expect(await runStates(database.pool(), [runId])).toEqual([{ run_id: runId, status: 'completed', output: diamondOutput }]);
}

const recorded = () => migrations.map((migration) => ({ hash: migration.hash, created_at: String(migration.when) }));

describe('the packed package', { timeout: 240_000 }, () => {
  let app: string;
  beforeAll(async () => {
    app = await installedApp('consumer');
  }, 300_000);

  it('ships the migration history, the down and release files, the drizzle-kit config and an executable CLI', async () => {
    const listing = execFileSync('tar', ['-tzf', await packedTarball()], { encoding: 'utf8' }).split('\n');
    for (const migration of migrations) expect(listing).toContain(`package/migrations/${migration.tag}.sql`);
    expect(listing).toContain('package/migrations/meta/_journal.json');
    expect(listing.filter((file) => file.startsWith('package/migrations/down/')).sort()).toEqual(
      readdirSync(join(migrationsFolder, 'down'))
        .map((file) => `package/migrations/down/${file}`)
        .sort(),
    );
    expect(listing).toContain('package/drizzle.config.ts');
    expect(listing).toContain('package/dist/src/cli/main.js');
    expect(listing.some((file) => file.startsWith('package/dist/src/release/'))).toBe(false);
    const bin = join(app, 'node_modules', '.bin', 'pgflow-orm');
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect((await npxOk(app, ['pgflow-orm', '--version'])).trim()).toBe(packageVersion());
    const help = await npxOk(app, ['pgflow-orm', '--help']);
    for (const command of ['migrate', 'drizzle', 'sql', 'uninstall']) expect(help).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });

  it.each<AppName>(['consumer', 'floor'])('path 1 in the %s app: drizzle-kit migrate with the config inside node_modules installs pgflow next to the app’s own migrations', async (name) => {
    const work = workFolder(await installedApp(name), appFiles);
    const database = await freshDatabase();
    await npxOk(work, ['drizzle-kit', 'generate', '--name', 'init']);
    const output = await npxOk(work, ['drizzle-kit', 'migrate', '--config', 'node_modules/pgflow-orm/drizzle.config.ts'], database, true);
    expect(output).toContain('migrations applied successfully');
    expect(await packageHistory(database)).toEqual(recorded());
    await npxOk(work, ['drizzle-kit', 'migrate'], database);
    expect(await database.query(`select count(*)::int as n from drizzle.__drizzle_migrations`)).toEqual([{ n: 1 }]);
    expect(await database.query(`select to_regclass('public.notes') is not null as present`)).toEqual([{ present: true }]);

    // Again, from another working directory: nothing to apply.
    await npxOk(join(work, 'src'), ['drizzle-kit', 'migrate', '--config', '../node_modules/pgflow-orm/drizzle.config.ts'], database, true);
    expect(await packageHistory(database)).toEqual(recorded());
    expect(await migratePgflow(drizzle(database.pool()))).toEqual({ applied: [], version: latest });
    // The app's schemaFilter keeps pgflow out of its own migrations.
    expect(await npxOk(work, ['drizzle-kit', 'generate'])).toContain('No schema changes');
    await expectWorkingInstall(database);
  }, 300_000);

  it("path 2: pgflow-orm drizzle add writes pgflow's migrations into the app's folder and drizzle-kit migrate applies both", async () => {
    const work = workFolder(app, appFiles);
    const database = await freshDatabase();
    await npxOk(work, ['drizzle-kit', 'generate', '--name', 'init']);
    const added = await npxOk(work, ['pgflow-orm', 'drizzle', 'add', '--out', './drizzle'], undefined, true);
    for (const migration of migrations) expect(added).toContain(migration.tag.replace(/^\d+_/, ''));
    await npxOk(work, ['drizzle-kit', 'migrate'], database);
    expect(await database.query(`select count(*)::int as n from drizzle.__drizzle_migrations`)).toEqual([{ n: migrations.length + 1 }]);
    expect(await database.query(`select to_regclass('public.notes') is not null as present`)).toEqual([{ present: true }]);
    await expectWorkingInstall(database);

    expect(await npxOk(work, ['pgflow-orm', 'drizzle', 'add', '--out', './drizzle'])).toContain('nothing to add');
    // The copied snapshots carry the app's schema: the app's next generate sees only its own change.
    expect(await npxOk(work, ['drizzle-kit', 'generate'])).toContain('No schema changes');
    writeFileSync(join(work, 'src', 'schema.ts'), APP_SCHEMA.replace("body: text('body').notNull(),", "body: text('body').notNull(),\n  title: text('title'),"));
    await npxOk(work, ['drizzle-kit', 'generate', '--name', 'add_title']);
    const tags = (JSON.parse(readFileSync(join(work, 'drizzle', 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] }).entries.map((entry) => entry.tag);
    expect(tags.at(-1)).toBe(`${String(migrations.length + 1).padStart(4, '0')}_add_title`);
    expect(readFileSync(join(work, 'drizzle', `${tags.at(-1)}.sql`), 'utf8').trim()).toBe('ALTER TABLE "notes" ADD COLUMN "title" text;');
    await npxOk(work, ['drizzle-kit', 'migrate'], database);
    expect(await database.query(`select column_name from information_schema.columns where table_name = 'notes' order by ordinal_position`)).toEqual([
      { column_name: 'id' },
      { column_name: 'body' },
      { column_name: 'title' },
    ]);
  });

  it('path 2 with drizzle-kit 1.0: one folder per migration, applied by its drizzle-kit migrate', async () => {
    const one = await installedApp('drizzle-1');
    const work = workFolder(one, appFiles);
    const database = await freshDatabase();
    await npxOk(work, ['drizzle-kit', 'generate', '--name', 'init']);
    const added = await npxOk(work, ['pgflow-orm', 'drizzle', 'add']);
    expect(added).toContain('added drizzle/');
    const folders = readdirSync(join(work, 'drizzle')).sort();
    expect(folders).toHaveLength(migrations.length + 1);
    expect(folders.slice(1).map((folder) => folder.replace(/^\d{14}_/, ''))).toEqual(migrations.map((migration) => migration.tag.replace(/^\d+_/, '')));
    await npxOk(work, ['drizzle-kit', 'migrate'], database);
    await expectWorkingInstall(database);
    expect(await npxOk(work, ['pgflow-orm', 'drizzle', 'add'])).toContain('nothing to add');
    expect(await npxOk(work, ['drizzle-kit', 'generate'])).toMatch(/No schema changes|nothing to generate/i);
  });

  it("path 2 with drizzle-kit 1.0 into an empty folder: pgflow's migrations come first, the app's generate follows them", async () => {
    const work = workFolder(await installedApp('drizzle-1'), appFiles);
    const database = await freshDatabase();
    expect(await npxOk(work, ['pgflow-orm', 'drizzle', 'add'])).toContain('added drizzle/');
    await npxOk(work, ['drizzle-kit', 'migrate'], database);
    await expectWorkingInstall(database);
    // The app's first generate sees only its own table.
    await npxOk(work, ['drizzle-kit', 'generate', '--name', 'init']);
    const folders = readdirSync(join(work, 'drizzle')).sort();
    expect(folders).toHaveLength(migrations.length + 1);
    expect(readFileSync(join(work, 'drizzle', folders.at(-1)!, 'migration.sql'), 'utf8')).toMatch(/^CREATE TABLE "notes"/);
    await npxOk(work, ['drizzle-kit', 'migrate'], database);
    expect(await database.query(`select to_regclass('public.notes') is not null as present`)).toEqual([{ present: true }]);
  });

  it('installs pgflow with `pgflow-orm migrate` and prints the release SQL for psql with `pgflow-orm sql`', async () => {
    const cli = await freshDatabase();
    expect(await npxOk(app, ['pgflow-orm', 'migrate'], cli)).toContain(`pgflow ${latest} installed`);
    expect(await npxOk(app, ['pgflow-orm', 'migrate'], cli)).toContain(`pgflow ${latest} is up to date`);
    expect(await packageHistory(cli)).toEqual(recorded());

    const listed = await npxOk(app, ['pgflow-orm', 'sql']);
    const versions = listed.trim().split('\n').map((line) => line.split('\t')[0]);
    expect(versions.at(-1)).toBe(latest);
    const plain = await freshDatabase();
    for (const version of versions) {
      const sql = (await runOk(join(app, 'node_modules', '.bin', 'pgflow-orm'), ['sql', version!], { cwd: app })).stdout;
      const file = join(workFolder(app), `pgflow-orm-${version}.sql`);
      writeFileSync(file, sql);
      await runOk('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', plain.url, '-f', file], { cwd: app });
    }
    expect(await packageHistory(plain)).toEqual(recorded());
    await expectWorkingInstall(plain);
  });
});
