/**
 * Copies pgflow's migrations into an app's own drizzle-kit migrations folder,
 * so the app's single `drizzle-kit migrate` installs and upgrades pgflow.
 *
 * drizzle-kit 0.x decides what to apply by the journal's `when` alone and
 * silently skips an entry older than the newest applied one, so every copy
 * gets a fresh timestamp after the app's newest entry (as `drizzle-kit
 * generate --custom` would give it) and a snapshot that changes nothing after
 * the app's previous one (pgflow's tables are not part of the app's schema, so
 * the app's next `drizzle-kit generate` sees no change). Copies keep the package's migration
 * name (`0003_pgflow_0_1_0_functions` ← `0001_pgflow_0_1_0_functions`) and
 * are recognised by that name, never by timestamp: running the command again
 * adds nothing, and after a package upgrade it adds only the new migrations.
 *
 * Both folder layouts are supported: drizzle-kit 0.x (`<tag>.sql` files and
 * `meta/_journal.json`) and drizzle-kit 1.0 (one `<YYYYMMDDHHMMSS>_<name>/`
 * folder per migration with `migration.sql` and `snapshot.json`).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { migrationName, readMigrations, sha256, type JournalEntry, type Migration } from './index.js';

export type AppFolderLayout = 'journal' | 'folders';

export interface AddMigrationsOptions {
  /** The app's migrations folder (drizzle-kit's `out`). */
  out: string;
  /** Detected when omitted: an existing folder's layout, else the layout of the drizzle-kit the app has installed. */
  layout?: AppFolderLayout;
  /** Where to look for the app's drizzle-kit when the layout must be guessed; the working directory by default. */
  cwd?: string;
  /** Report what would be added without writing anything. */
  dryRun?: boolean;
  /** @internal The package history to copy (the bundled one by default). */
  migrations?: readonly Migration[];
  /** @internal The clock, in milliseconds. */
  now?: () => number;
}

export interface AddedMigration {
  /** The package migration it copies. */
  source: string;
  /** Its name in the app's folder (journal tag or folder name). */
  tag: string;
  when: number;
  /** The SQL file written. */
  path: string;
}

export interface AddMigrationsResult {
  layout: AppFolderLayout;
  out: string;
  added: AddedMigration[];
  /** Package migrations the folder already has (by name). */
  present: string[];
  /** Copies whose content differs from the package's file (they were edited in the app). */
  modified: string[];
}

/** The app folder cannot take pgflow's migrations as it is. */
export class AppFolderError extends Error {
  override name = 'AppFolderError';
}

const ORIGIN_ID = '00000000-0000-0000-0000-000000000000';

const two = (value: number) => String(value).padStart(2, '0');

/** `YYYYMMDDHHMMSS` in UTC. */
export function timestampPrefix(millis: number): string {
  const date = new Date(millis);
  return `${date.getUTCFullYear()}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}`;
}

/** Milliseconds of a `YYYYMMDDHHMMSS` prefix, read as UTC (as drizzle's 1.0 migrator reads folder names). */
export function prefixMillis(prefix: string): number {
  const part = (start: number, end: number) => Number.parseInt(prefix.slice(start, end), 10);
  return Date.UTC(part(0, 4), part(4, 6) - 1, part(6, 8), part(8, 10), part(10, 12), part(12, 14));
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** The major version of the drizzle-kit the project at `cwd` has installed, if any. */
export function installedDrizzleKitMajor(cwd: string): number | undefined {
  let entry: string;
  try {
    entry = createRequire(join(cwd, 'package.json')).resolve('drizzle-kit');
  } catch {
    return undefined;
  }
  // drizzle-kit does not export its package.json: find it above the entry file.
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const { name, version } = readJson<{ name?: string; version?: string }>(manifest);
    if (name === 'drizzle-kit' && version) return Number.parseInt(version, 10);
  }
  return undefined;
}

/** drizzle-kit 1.0 migrations in `out`: one `<name>/migration.sql` folder each, in name order. */
export function migrationFolders(out: string): string[] {
  if (!existsSync(out)) return [];
  return readdirSync(out)
    .filter((name) => statSync(join(out, name)).isDirectory() && existsSync(join(out, name, 'migration.sql')))
    .sort((a, b) => a.localeCompare(b));
}

export function detectLayout(out: string, cwd = process.cwd()): AppFolderLayout {
  if (existsSync(join(out, 'meta', '_journal.json'))) return 'journal';
  if (migrationFolders(out).length > 0) return 'folders';
  return (installedDrizzleKitMajor(cwd) ?? 0) >= 1 ? 'folders' : 'journal';
}

/**
 * Which package migrations the app already has, by name, checking they form
 * a prefix of the package history (a later one present without an earlier
 * one would apply out of order).
 */
function planCopies(
  history: readonly Migration[],
  appNames: Map<string, string>,
  readCopy: (appTag: string) => string,
): { missing: Migration[]; present: string[]; modified: string[] } {
  const present: string[] = [];
  const modified: string[] = [];
  let firstMissing: Migration | undefined;
  const missing: Migration[] = [];
  for (const migration of history) {
    const appTag = appNames.get(migrationName(migration.tag));
    if (appTag === undefined) {
      firstMissing ??= migration;
      missing.push(migration);
      continue;
    }
    if (firstMissing) {
      throw new AppFolderError(
        `the migrations folder has ${appTag} (pgflow's ${migration.tag}) but not the earlier ${migrationName(firstMissing.tag)}; ` +
          'restore the missing pgflow migration before adding newer ones',
      );
    }
    present.push(migration.tag);
    if (sha256(readCopy(appTag)) !== migration.hash) modified.push(appTag);
  }
  return { missing, present, modified };
}

interface Journal {
  version: string;
  dialect: string;
  entries: JournalEntry[];
}

function addToJournalFolder(out: string, history: readonly Migration[], now: number, dryRun: boolean): Omit<AddMigrationsResult, 'layout' | 'out'> {
  const journalPath = join(out, 'meta', '_journal.json');
  const journal: Journal = existsSync(journalPath) ? readJson<Journal>(journalPath) : { version: '7', dialect: 'postgresql', entries: [] };
  if (journal.dialect !== 'postgresql') throw new AppFolderError(`${journalPath} is for dialect ${journal.dialect}; pgflow needs postgresql`);
  const appNames = new Map(journal.entries.map((entry) => [migrationName(entry.tag), entry.tag]));
  const { missing, present, modified } = planCopies(history, appNames, (tag) => readFileSync(join(out, `${tag}.sql`), 'utf8'));

  const last = journal.entries.at(-1);
  const prefixOf = (tag: string) => /^(\d+)_/.exec(tag)?.[1];
  const lastPrefix = last ? prefixOf(last.tag) : undefined;
  const style = last === undefined ? 'index' : lastPrefix === undefined ? 'none' : lastPrefix.length === 14 ? 'timestamp' : lastPrefix.length === 10 ? 'unix' : 'index';
  let previousSnapshot = last ? findJournalSnapshot(out, last.tag) : undefined;
  let when = Math.max(now, (last?.when ?? 0) + 1);
  let idx = last ? last.idx + 1 : 0;
  const added: AddedMigration[] = [];
  for (const migration of missing) {
    const name = migrationName(migration.tag);
    const prefix =
      style === 'index' ? String(idx).padStart(4, '0') : style === 'timestamp' ? timestampPrefix(when) : style === 'unix' ? String(Math.floor(when / 1000)) : '';
    const tag = prefix ? `${prefix}_${name}` : name;
    const path = join(out, `${tag}.sql`);
    const snapshot = nextJournalSnapshot(previousSnapshot);
    if (!dryRun) {
      mkdirSync(join(out, 'meta'), { recursive: true });
      writeFileSync(path, migration.sql);
      writeFileSync(join(out, 'meta', `${prefix || tag}_snapshot.json`), JSON.stringify(snapshot, null, 2));
    }
    journal.entries.push({ idx, version: journal.version ?? '7', when, tag, breakpoints: true });
    added.push({ source: migration.tag, tag, when, path });
    previousSnapshot = snapshot;
    idx++;
    when++;
  }
  if (!dryRun && added.length > 0) writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  return { added, present, modified };
}

type Snapshot = Record<string, unknown> & { id?: string };

/** The snapshot of the journal's last entry (named after its prefix), else the newest snapshot in meta/. */
function findJournalSnapshot(out: string, tag: string): Snapshot | undefined {
  const prefix = /^(\d+)_/.exec(tag)?.[1] ?? tag;
  const path = join(out, 'meta', `${prefix}_snapshot.json`);
  if (existsSync(path)) return readJson<Snapshot>(path);
  const newest = readdirSync(join(out, 'meta'))
    .filter((name) => name.endsWith('_snapshot.json'))
    .sort((a, b) => a.localeCompare(b))
    .at(-1);
  return newest ? readJson<Snapshot>(join(out, 'meta', newest)) : undefined;
}

/** The snapshot of a custom migration: the previous one again, with a new id chained to it. */
function nextJournalSnapshot(previous: Snapshot | undefined): Snapshot {
  const base: Snapshot = previous ?? {
    id: ORIGIN_ID,
    prevId: '',
    version: '7',
    dialect: 'postgresql',
    tables: {},
    enums: {},
    schemas: {},
    sequences: {},
    roles: {},
    policies: {},
    views: {},
  };
  const { id: previousId, prevId: _prevId, _meta: _previousMeta, ...rest } = base;
  return { id: randomUUID(), prevId: previousId ?? ORIGIN_ID, ...rest, _meta: { columns: {}, schemas: {}, tables: {} } };
}

/**
 * The snapshot of a copied migration in drizzle-kit 1.0's folder layout: one
 * that changes no table (pgflow's tables live outside the app's schema
 * filter), chained after the folder's newest snapshot. Snapshot version 9
 * (drizzle-kit 1.0.0-rc.5 on) keeps a single full `base` snapshot and a
 * `diff` per later migration, so the copy is an empty diff, as
 * `drizzle-kit generate --custom` writes it; version 8 snapshots are full
 * copies of the previous one.
 */
function nextFolderSnapshot(previous: Snapshot): Snapshot {
  const prevIds = [previous.id ?? ORIGIN_ID];
  if (Number(previous.version) >= 9) {
    if (previous.id === ORIGIN_ID) return { ...previous, id: randomUUID(), prevIds };
    return { type: 'diff', version: previous.version, dialect: previous.dialect, id: randomUUID(), prevIds, footprints: [], deltas: [] };
  }
  const { id: _id, prevIds: _prevIds, ...rest } = previous;
  return { id: randomUUID(), prevIds, ...rest, ...('renames' in rest ? { renames: [] } : {}) };
}

/**
 * What an empty folder's first snapshot is chained to: the empty schema in
 * the snapshot version the app's drizzle-kit writes (asked through its
 * `drizzle-kit/api-postgres`; version 9 is a `base` snapshot), with the
 * origin id. drizzle-kit 1.0 releases before that API answer version 8.
 */
async function emptySchemaSnapshot(cwd: string): Promise<Snapshot> {
  try {
    const entry = createRequire(join(cwd, 'package.json')).resolve('drizzle-kit/api-postgres');
    const api = (await import(pathToFileURL(entry).href)) as { generateDrizzleJson?: (imports: Record<string, unknown>) => Promise<Snapshot> };
    const empty = await api.generateDrizzleJson?.({});
    if (empty && Number(empty.version) >= 9) {
      return { type: 'base', version: empty.version, dialect: empty.dialect, id: ORIGIN_ID, prevIds: [], footprints: [], ddl: [] };
    }
  } catch {
    // No such API in this drizzle-kit: it writes version 8 snapshots.
  }
  return { id: ORIGIN_ID, version: '8', dialect: 'postgres', ddl: [], renames: [] };
}

async function addToMigrationFolders(out: string, history: readonly Migration[], now: number, dryRun: boolean, cwd: string): Promise<Omit<AddMigrationsResult, 'layout' | 'out'>> {
  const folders = migrationFolders(out);
  const appNames = new Map(folders.map((folder) => [folder.replace(/^\d{14}_/, ''), folder]));
  const { missing, present, modified } = planCopies(history, appNames, (folder) => readFileSync(join(out, folder, 'migration.sql'), 'utf8'));

  const newest = folders.reduce((latest, folder) => (/^\d{14}_/.test(folder) ? Math.max(latest, prefixMillis(folder.slice(0, 14))) : latest), 0);
  let when = Math.max(Math.floor(now / 1000) * 1000, newest + 1000);
  const lastFolder = folders.at(-1);
  const snapshotPath = lastFolder ? join(out, lastFolder, 'snapshot.json') : undefined;
  let previousSnapshot = snapshotPath && existsSync(snapshotPath) ? readJson<Snapshot>(snapshotPath) : missing.length > 0 ? await emptySchemaSnapshot(cwd) : undefined;
  const added: AddedMigration[] = [];
  for (const migration of missing) {
    const folder = `${timestampPrefix(when)}_${migrationName(migration.tag)}`;
    const path = join(out, folder, 'migration.sql');
    const snapshot = nextFolderSnapshot(previousSnapshot!);
    if (!dryRun) {
      mkdirSync(join(out, folder), { recursive: true });
      writeFileSync(path, migration.sql);
      writeFileSync(join(out, folder, 'snapshot.json'), JSON.stringify(snapshot, null, 2));
    }
    added.push({ source: migration.tag, tag: folder, when, path });
    previousSnapshot = snapshot;
    when += 1000;
  }
  return { added, present, modified };
}

/** Adds the package migrations the app's folder does not have yet. */
export async function addPgflowMigrations(options: AddMigrationsOptions): Promise<AddMigrationsResult> {
  const out = resolve(options.out);
  const layout = options.layout ?? detectLayout(out, options.cwd);
  const history = options.migrations ?? readMigrations();
  const now = (options.now ?? Date.now)();
  const dryRun = options.dryRun ?? false;
  if (layout === 'journal' && migrationFolders(out).length > 0 && !existsSync(join(out, 'meta', '_journal.json'))) {
    throw new AppFolderError(`${out} holds drizzle-kit 1.0 migration folders; use the folders layout`);
  }
  if (layout === 'folders' && existsSync(join(out, 'meta', '_journal.json'))) {
    throw new AppFolderError(`${out} has a drizzle-kit 0.x journal (meta/_journal.json); use the journal layout, or run \`drizzle-kit up\` first`);
  }
  const result = layout === 'journal' ? addToJournalFolder(out, history, now, dryRun) : await addToMigrationFolders(out, history, now, dryRun, options.cwd ?? process.cwd());
  return { layout, out, ...result };
}
