/**
 * The migration history shipped with the package, in drizzle-kit's folder
 * format (`migrations/*.sql` + `migrations/meta/_journal.json`), and the names
 * of the table that records which of them a database has applied.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** drizzle-orm and drizzle-kit record the package's own history here, outside schema `pgflow`. */
export const MIGRATIONS_SCHEMA = 'drizzle';
export const MIGRATIONS_TABLE = '__pgflow_migrations';

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

export function readJournal(folder = migrationsFolder): JournalEntry[] {
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] };
  return journal.entries;
}

export function readMigrations(folder = migrationsFolder): Migration[] {
  return readJournal(folder).map((entry) => {
    const sql = readFileSync(join(folder, `${entry.tag}.sql`), 'utf8');
    return {
      tag: entry.tag,
      when: entry.when,
      sql,
      statements: sql.split(STATEMENT_BREAKPOINT).filter((statement) => statement.trim() !== ''),
      hash: createHash('sha256').update(sql).digest('hex'),
    };
  });
}
