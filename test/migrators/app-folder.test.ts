/**
 * Path 2, the folder side: `pgflow-orm drizzle add` copying pgflow's
 * migrations into an app's own drizzle-kit folder (0.x journal layout and
 * 1.0 folder-per-migration layout), checked with the repository's real
 * drizzle-kit 0.31 `migrate`. The packed end-to-end run is in packed-drizzle.test.ts.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addPgflowMigrations, AppFolderError, prefixMillis, timestampPrefix } from '../../src/migrations/app-folder.js';
import { bundledSchemaVersion, readMigrations, type JournalEntry } from '../../src/migrations/index.js';
import { PGFLOW_TABLES, installFacts, useFreshDatabases } from './support/databases.js';
import { repoRoot } from '../support/paths.js';
import { runOk } from '../support/processes.js';
import { syntheticHistory } from './support/synthetic.js';

const freshDatabase = useFreshDatabases();
const migrations = readMigrations();
const names = migrations.map((migration) => migration.tag.replace(/^\d+_/, ''));
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function tempApp(): string {
  const folder = mkdtempSync(join(tmpdir(), 'pgflow-orm-appfolder-'));
  folders.push(folder);
  return folder;
}

const APP_SQL = 'CREATE TABLE "notes" (\n\t"id" serial PRIMARY KEY NOT NULL,\n\t"body" text NOT NULL\n);\n';
const APP_SNAPSHOT = {
  id: '5a0b1d7e-0000-4000-8000-000000000001',
  prevId: '00000000-0000-0000-0000-000000000000',
  version: '7',
  dialect: 'postgresql',
  tables: { 'public.notes': { name: 'notes', schema: '', columns: {}, indexes: {}, foreignKeys: {}, compositePrimaryKeys: {}, uniqueConstraints: {}, policies: {}, checkConstraints: {}, isRLSEnabled: false } },
  enums: {},
  schemas: {},
  sequences: {},
  roles: {},
  policies: {},
  views: {},
  _meta: { columns: {}, schemas: {}, tables: {} },
};

/** An app folder in drizzle-kit 0.x layout with one migration of its own, stamped `when`. */
function journalApp(when: number, tag = '0000_init'): string {
  const root = tempApp();
  const out = join(root, 'drizzle');
  mkdirSync(join(out, 'meta'), { recursive: true });
  writeFileSync(join(out, `${tag}.sql`), APP_SQL);
  writeFileSync(join(out, 'meta', `${tag.split('_')[0]}_snapshot.json`), JSON.stringify(APP_SNAPSHOT, null, 2));
  writeFileSync(
    join(out, 'meta', '_journal.json'),
    JSON.stringify({ version: '7', dialect: 'postgresql', entries: [{ idx: 0, version: '7', when, tag, breakpoints: true }] }, null, 2),
  );
  writeFileSync(
    join(root, 'drizzle.config.ts'),
    `export default { dialect: 'postgresql', out: './drizzle', dbCredentials: { url: process.env.DATABASE_URL } };\n`,
  );
  return root;
}

const journalOf = (out: string) => (JSON.parse(readFileSync(join(out, 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] }).entries;

/** The repository's drizzle-kit 0.31, as the app would run it. */
async function drizzleKitMigrate(root: string, url: string): Promise<void> {
  await runOk(process.execPath, [join(repoRoot, 'node_modules', 'drizzle-kit', 'bin.cjs'), 'migrate', '--config', 'drizzle.config.ts'], {
    cwd: root,
    env: { DATABASE_URL: url },
  });
}

describe('drizzle add, drizzle-kit 0.x journal layout', () => {
  it("adds pgflow's migrations after the app's own, with fresh timestamps, and drizzle-kit migrate applies both", async () => {
    // The app's newest entry is stamped ahead of the clock: copies must still come after it.
    const ahead = Date.now() + 86_400_000;
    const root = journalApp(ahead);
    const out = join(root, 'drizzle');
    const result = await addPgflowMigrations({ out });
    expect(result.layout).toBe('journal');
    expect(result.added.map((added) => added.tag)).toEqual(names.map((name, index) => `${String(index + 1).padStart(4, '0')}_${name}`));
    const entries = journalOf(out);
    expect(entries.map((entry) => entry.idx)).toEqual(entries.map((_, index) => index));
    for (let index = 1; index < entries.length; index++) expect(entries[index]!.when).toBeGreaterThan(entries[index - 1]!.when);
    for (const [index, migration] of migrations.entries()) {
      expect(readFileSync(join(out, `${entries[index + 1]!.tag}.sql`), 'utf8')).toBe(migration.sql);
    }
    // Each copy carries the app's schema forward (not pgflow's), chained to the previous snapshot.
    const snapshots = entries.map((entry) => JSON.parse(readFileSync(join(out, 'meta', `${entry.tag.slice(0, 4)}_snapshot.json`), 'utf8')) as typeof APP_SNAPSHOT);
    for (let index = 1; index < snapshots.length; index++) {
      expect(snapshots[index]!.prevId).toBe(snapshots[index - 1]!.id);
      expect(snapshots[index]!.tables).toEqual(APP_SNAPSHOT.tables);
    }
    expect(new Set(snapshots.map((snapshot) => snapshot.id)).size).toBe(snapshots.length);

    const database = await freshDatabase();
    await drizzleKitMigrate(root, database.url);
    expect(await installFacts(database)).toMatchObject({ version: bundledSchemaVersion(), schemas: ['pgflow', 'pgmq'], tables: PGFLOW_TABLES });
    expect(await database.query(`select count(*)::int as n from drizzle.__drizzle_migrations`)).toEqual([{ n: entries.length }]);
    expect(await database.query(`select to_regclass('public.notes') is not null as present`)).toEqual([{ present: true }]);
  });

  it('is a no-op when run again, recognising copies by name even when their timestamps changed', async () => {
    const root = journalApp(Date.now());
    const out = join(root, 'drizzle');
    await addPgflowMigrations({ out });
    const journalPath = join(out, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: JournalEntry[] };
    for (const entry of journal.entries) entry.when += 1234;
    writeFileSync(journalPath, JSON.stringify(journal, null, 2));
    const before = readdirSync(out).sort();
    const again = await addPgflowMigrations({ out });
    expect(again.added).toEqual([]);
    expect(again.present).toEqual(migrations.map((migration) => migration.tag));
    expect(again.modified).toEqual([]);
    expect(readdirSync(out).sort()).toEqual(before);
  });

  it('after a package upgrade adds only the new migrations, and drizzle-kit migrate upgrades pgflow', async () => {
    const root = journalApp(Date.now());
    const out = join(root, 'drizzle');
    await addPgflowMigrations({ out });
    const database = await freshDatabase();
    await drizzleKitMigrate(root, database.url);

    const upgraded = syntheticHistory(['90.0.0']).migrations;
    const result = await addPgflowMigrations({ out, migrations: upgraded });
    expect(result.added.map((added) => added.tag)).toEqual([`${String(migrations.length + 1).padStart(4, '0')}_pgflow_90_0_0_functions`]);
    await drizzleKitMigrate(root, database.url);
    expect((await installFacts(database)).version).toBe('90.0.0');
    expect((await addPgflowMigrations({ out, migrations: upgraded })).added).toEqual([]);
  });

  it("creates the folder and journal when the app has none yet, and follows the app's tag prefix style", async () => {
    const empty = join(tempApp(), 'drizzle');
    const fresh = await addPgflowMigrations({ out: empty, layout: 'journal', now: () => 1_800_000_000_000 });
    expect(journalOf(empty).map((entry) => [entry.tag, entry.when])).toEqual(names.map((name, index) => [`${String(index).padStart(4, '0')}_${name}`, 1_800_000_000_000 + index]));
    expect(fresh.added).toHaveLength(migrations.length);
    expect(JSON.parse(readFileSync(join(empty, 'meta', '0000_snapshot.json'), 'utf8'))).toMatchObject({ prevId: '00000000-0000-0000-0000-000000000000', tables: {} });

    const root = journalApp(1_800_000_000_000, '20270115080000_init');
    const out = join(root, 'drizzle');
    const result = await addPgflowMigrations({ out, now: () => 1_700_000_000_000 });
    expect(result.added.map((added) => added.tag)).toEqual(names.map((name, index) => `${timestampPrefix(1_800_000_000_001 + index)}_${name}`));
    expect(existsSync(join(out, 'meta', `${timestampPrefix(1_800_000_000_001)}_snapshot.json`))).toBe(true);
  });

  it('reports copies edited in the app, and refuses a folder missing an earlier pgflow migration', async () => {
    const root = journalApp(Date.now());
    const out = join(root, 'drizzle');
    const { added } = await addPgflowMigrations({ out });
    writeFileSync(added[1]!.path, `${readFileSync(added[1]!.path, 'utf8')}\n-- edited\n`);
    expect((await addPgflowMigrations({ out })).modified).toEqual([added[1]!.tag]);

    const journalPath = join(out, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: JournalEntry[] };
    journal.entries = journal.entries.filter((entry) => entry.tag !== added[0]!.tag);
    writeFileSync(journalPath, JSON.stringify(journal, null, 2));
    await expect(addPgflowMigrations({ out })).rejects.toThrow(AppFolderError);
    await expect(addPgflowMigrations({ out })).rejects.toThrow(/has .*pgflow_0_1_0_functions.* but not the earlier pgflow_tables/);
  });

  it('writes nothing on a dry run', async () => {
    const root = journalApp(Date.now());
    const out = join(root, 'drizzle');
    const before = readFileSync(join(out, 'meta', '_journal.json'), 'utf8');
    expect((await addPgflowMigrations({ out, dryRun: true })).added).toHaveLength(migrations.length);
    expect(readFileSync(join(out, 'meta', '_journal.json'), 'utf8')).toBe(before);
    expect(readdirSync(out).sort()).toEqual(['0000_init.sql', 'meta']);
  });
});

describe('drizzle add, drizzle-kit 1.0 folder-per-migration layout', () => {
  function folderApp(name: string): string {
    const out = join(tempApp(), 'drizzle');
    mkdirSync(join(out, name), { recursive: true });
    writeFileSync(join(out, name, 'migration.sql'), APP_SQL);
    writeFileSync(
      join(out, name, 'snapshot.json'),
      JSON.stringify({ version: '8', dialect: 'postgres', id: 'app-snapshot-id', prevIds: ['00000000-0000-0000-0000-000000000000'], ddl: [{ name: 'notes', entityType: 'tables', schema: 'public', isRlsEnabled: false }], renames: [] }),
    );
    return out;
  }

  it('detects the layout and adds one folder per migration, after the newest, chaining snapshots', async () => {
    const future = '20991231235959_init';
    const out = folderApp(future);
    const result = await addPgflowMigrations({ out, now: () => Date.UTC(2026, 0, 1) });
    expect(result.layout).toBe('folders');
    const expected = names.map((name, index) => `${timestampPrefix(prefixMillis(future.slice(0, 14)) + 1000 * (index + 1))}_${name}`);
    expect(result.added.map((added) => added.tag)).toEqual(expected);
    expect(readdirSync(out).sort()).toEqual([future, ...expected].sort());
    let previous = 'app-snapshot-id';
    for (const [index, folder] of expected.entries()) {
      expect(readFileSync(join(out, folder, 'migration.sql'), 'utf8')).toBe(migrations[index]!.sql);
      const snapshot = JSON.parse(readFileSync(join(out, folder, 'snapshot.json'), 'utf8')) as { id: string; prevIds: string[]; ddl: unknown[] };
      expect(snapshot.prevIds).toEqual([previous]);
      expect(snapshot.ddl).toHaveLength(1);
      previous = snapshot.id;
    }
    expect((await addPgflowMigrations({ out })).added).toEqual([]);
  });

  it('uses the current time when the newest folder is older', async () => {
    const out = folderApp('20200101000000_init');
    const now = Date.UTC(2026, 5, 1, 12, 0, 0, 500);
    const result = await addPgflowMigrations({ out, now: () => now });
    expect(result.added[0]!.tag).toBe(`20260601120000_${names[0]}`);
    expect(result.added[1]!.tag).toBe(`20260601120001_${names[1]}`);
  });

  it('refuses to mix layouts', async () => {
    const out = folderApp('20200101000000_init');
    await expect(addPgflowMigrations({ out, layout: 'journal' })).rejects.toThrow(/holds drizzle-kit 1\.0 migration folders/);
    const journalOut = join(journalApp(Date.now()), 'drizzle');
    await expect(addPgflowMigrations({ out: journalOut, layout: 'folders' })).rejects.toThrow(/has a drizzle-kit 0\.x journal/);
  });
});
