/**
 * Writes one migration into an app's own migrations folder, in the layout of
 * its migrator: drizzle-kit's (journal or folder per migration, through the
 * copier of ./app-folder.ts) or a folder of flat files (Kysely, plain SQL).
 * Used by `pgflow-orm compile`; a migration of the same name with other
 * content is refused, the same content is left as it is.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addPgflowMigrations, AppFolderError, migrationFolders, timestampPrefix, type AppFolderLayout } from './app-folder.js';
import { sha256, splitStatements, type Migration } from './index.js';

/** What writing a migration did. */
export interface WrittenMigration {
  /** The main file written (or that would be written, or that already holds the flows). */
  path: string;
  status: 'written' | 'unchanged' | 'dry-run';
  /** Other files written (journal, snapshot). */
  alsoWritten: string[];
}

const sameNameError = (path: string) =>
  new AppFolderError(
    `${path} already exists with other SQL. A flow does not change in place: give the changed flow a new slug, ` +
      'or pass --name to write the new definitions as another migration',
  );

/**
 * Writes one migration named `name` with `sql` into a drizzle-kit folder (either layout), through the same
 * copier that adds pgflow's own migrations (./app-folder.ts): a fresh timestamp, a snapshot that changes nothing.
 */
export async function writeDrizzleMigration(out: string, layout: AppFolderLayout, name: string, sql: string, dryRun: boolean): Promise<WrittenMigration> {
  const migration: Migration = { tag: `0000_${name}`, when: 0, sql, statements: splitStatements(sql), hash: sha256(sql) };
  const result = await addPgflowMigrations({ out, layout, migrations: [migration], dryRun });
  if (result.modified.length > 0) {
    const tag = result.modified[0]!;
    throw sameNameError(layout === 'journal' ? join(out, `${tag}.sql`) : join(out, tag, 'migration.sql'));
  }
  const added = result.added[0];
  if (!added) {
    const path = layout === 'journal' ? findJournalFile(out, name) : findFolderFile(out, name);
    return { path, status: 'unchanged', alsoWritten: [] };
  }
  const alsoWritten =
    layout === 'journal'
      ? [join(out, 'meta', '_journal.json'), join(out, 'meta', `${/^(\d+)_/.exec(added.tag)?.[1] ?? added.tag}_snapshot.json`)]
      : [join(out, added.tag, 'snapshot.json')];
  return { path: added.path, status: dryRun ? 'dry-run' : 'written', alsoWritten: dryRun ? [] : alsoWritten };
}

function findJournalFile(out: string, name: string): string {
  const journal = JSON.parse(readFileSync(join(out, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const tag = journal.entries.find((entry) => entry.tag.replace(/^\d+_/, '') === name)?.tag ?? name;
  return join(out, `${tag}.sql`);
}

function findFolderFile(out: string, name: string): string {
  const folder = migrationFolders(out).find((candidate) => candidate.replace(/^\d{14}_/, '') === name) ?? name;
  return join(out, folder, 'migration.sql');
}

/** The ordering prefix of a flat migrations folder's file names. */
type PrefixStyle = { kind: 'timestamp' } | { kind: 'index'; next: number; width: number } | { kind: 'flyway'; next: number };

const FLYWAY = /^V(\d+)__/;
const NUMBERED = /^(\d+)[_-]/;

function prefixStyle(files: readonly string[]): PrefixStyle {
  const flyway = files.map((file) => FLYWAY.exec(file)).filter((match) => match !== null);
  if (flyway.length > 0) return { kind: 'flyway', next: Math.max(...flyway.map((match) => Number(match[1]))) + 1 };
  const numbered = files.map((file) => NUMBERED.exec(file)?.[1]).filter((prefix): prefix is string => prefix !== undefined && prefix.length !== 14);
  if (numbered.length > 0 && numbered.length === files.filter((file) => NUMBERED.test(file)).length) {
    return { kind: 'index', next: Math.max(...numbered.map(Number)) + 1, width: Math.max(...numbered.map((prefix) => prefix.length)) };
  }
  return { kind: 'timestamp' };
}

const stripPrefix = (file: string) => file.replace(FLYWAY, '').replace(/^\d+[_-]/, '');

/**
 * Writes `<prefix><name><extension>` into a folder of flat migration files (Kysely, plain SQL), with the prefix
 * style the folder already uses (Flyway's `V<n>__`, a running index, or a `YYYYMMDDHHMMSS` timestamp).
 */
export function writeFlatMigration(out: string, name: string, extension: string, content: string, matches: (file: string) => boolean, dryRun: boolean, now: number): WrittenMigration {
  const files = existsSync(out) ? readdirSync(out).filter((file) => !statSync(join(out, file)).isDirectory() && matches(file)).sort() : [];
  const existing = files.find((file) => stripPrefix(file) === `${name}${extension}` || file === `${name}${extension}`);
  if (existing) {
    const path = join(out, existing);
    if (readFileSync(path, 'utf8') !== content) throw sameNameError(path);
    return { path, status: 'unchanged', alsoWritten: [] };
  }
  const style = prefixStyle(files);
  let file: string;
  if (style.kind === 'flyway') file = `V${style.next}__${name}${extension}`;
  else if (style.kind === 'index') file = `${String(style.next).padStart(style.width, '0')}_${name}${extension}`;
  else {
    const newest = files.map((existingFile) => /^(\d{14})_/.exec(existingFile)?.[1]).filter((prefix) => prefix !== undefined).sort().at(-1);
    let stamp = timestampPrefix(now);
    if (newest !== undefined && stamp <= newest) stamp = String(BigInt(newest) + 1n);
    file = `${stamp}_${name}${extension}`;
  }
  const last = files.at(-1);
  if (last !== undefined && style.kind !== 'flyway' && file <= last) {
    throw new AppFolderError(`cannot name the migration so that it sorts after ${last} in ${out}; rename the existing files or pass another --out`);
  }
  const path = join(out, file);
  if (!dryRun) {
    mkdirSync(out, { recursive: true });
    writeFileSync(path, content);
  }
  return { path, status: dryRun ? 'dry-run' : 'written', alsoWritten: [] };
}
