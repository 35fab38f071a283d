/**
 * The migration history shipped with the package, in drizzle-kit's folder
 * format (`migrations/*.sql` + `migrations/meta/_journal.json`), and the names
 * of the table that records which of them a database has applied.
 *
 * Next to the history the folder holds files no drizzle tool reads:
 * `releases.json` (which migrations make up each published release),
 * `down/<tag>.sql` (what reverts a migration, for Kysely's `down`) and
 * `sql/pgflow-orm-<version>.sql` (one plain SQL file per release, for psql).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** drizzle-orm and drizzle-kit record the package's own history here, outside schema `pgflow`. */
export const MIGRATIONS_SCHEMA = 'drizzle';
export const MIGRATIONS_TABLE = '__pgflow_migrations';

/** Kysely's Migrator records the package's history in these tables (recommended options). */
export const KYSELY_MIGRATION_TABLE = 'kysely_pgflow_migration';
export const KYSELY_MIGRATION_LOCK_TABLE = 'kysely_pgflow_migration_lock';

/** Separates statements inside a migration file, as drizzle-kit writes it. */
export const STATEMENT_BREAKPOINT = '--> statement-breakpoint';

function findPackageRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'pgflow-orm') return dir;
  }
  throw new Error(`pgflow-orm: cannot find the package root above ${from}`);
}

/** Absolute path of the package root (where `package.json` and `migrations/` live). */
export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** Absolute path of the bundled migrations folder. */
export const migrationsFolder = join(packageRoot, 'migrations');

/** The package's version, from its package.json. */
export function packageVersion(root = packageRoot): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface JournalEntry {
  idx: number;
  version: string;
  when: number;
  tag: string;
  breakpoints: boolean;
}

export interface Migration {
  /** File name without `.sql`, e.g. `0000_pgflow_tables`. */
  tag: string;
  /** The journal's timestamp; drizzle's migrators order and skip by it. */
  when: number;
  /** The whole file, exactly as shipped. */
  sql: string;
  /** The file split at drizzle-kit's statement breakpoints. */
  statements: string[];
  /** sha256 of the file, as drizzle's migrator records it. */
  hash: string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function readJournal(folder = migrationsFolder): JournalEntry[] {
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] };
  return journal.entries;
}

/** Splits a migration file at drizzle-kit's statement breakpoints, dropping empty pieces. */
export function splitStatements(sql: string): string[] {
  return sql.split(STATEMENT_BREAKPOINT).filter((statement) => statement.trim() !== '');
}

export function readMigrations(folder = migrationsFolder): Migration[] {
  return readJournal(folder).map((entry) => {
    const sql = readFileSync(join(folder, `${entry.tag}.sql`), 'utf8');
    return {
      tag: entry.tag,
      when: entry.when,
      sql,
      statements: splitStatements(sql),
      hash: sha256(sql),
    };
  });
}

/**
 * A migration's name without its numeric prefix (`0001_pgflow_0_1_0_functions`
 * → `pgflow_0_1_0_functions`). Copies in an app's own migrations folder keep
 * this name, which is how they are recognised again.
 */
export function migrationName(tag: string): string {
  return tag.replace(/^\d+_/, '');
}

/** Every package migration is named `<number>_pgflow_<what>`, so its copies are recognisable by name. */
export const MIGRATION_TAG_PATTERN = /^\d{4}_pgflow_[a-z0-9_]+$/;

const VERSION_FUNCTION = /create\s+or\s+replace\s+function\s+pgflow\.version\(\)[\s\S]*?select\s+'([^']+)'::text/i;

/** The version a migration sets `pgflow.version()` to, if it redefines it. */
export function versionSetBy(migration: Pick<Migration, 'sql'>): string | undefined {
  return VERSION_FUNCTION.exec(migration.sql)?.[1];
}

/**
 * The pgflow version a database reports once every given migration is
 * applied: the last `pgflow.version()` the history defines.
 */
export function schemaVersionOf(migrations: readonly Pick<Migration, 'sql'>[]): string | undefined {
  for (let index = migrations.length - 1; index >= 0; index--) {
    const version = versionSetBy(migrations[index]!);
    if (version) return version;
  }
  return undefined;
}

let bundledVersion: string | undefined;

/** The pgflow schema version this copy of the package installs and works with. */
export function bundledSchemaVersion(): string {
  bundledVersion ??= schemaVersionOf(readMigrations());
  if (!bundledVersion) throw new Error('pgflow-orm: no bundled migration defines pgflow.version()');
  return bundledVersion;
}

/** The plain SQL file of one release (`migrations/sql/pgflow-orm-<version>.sql`). */
export function sqlReleaseFile(version: string, folder = migrationsFolder): string {
  return join(folder, 'sql', `pgflow-orm-${version}.sql`);
}

/** The file that reverts a migration (`migrations/down/<tag>.sql`). */
export function downMigrationFile(tag: string, folder = migrationsFolder): string {
  return join(folder, 'down', `${tag}.sql`);
}
