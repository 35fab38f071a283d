/**
 * The SQL sources of the engine and of the built-in queue: one function per
 * file under `src/sql/<part>/`, applied in the order `src/sql/manifest.json`
 * lists them: a part's setup files (the schemas, tables and types its
 * functions need) first, and only when the part is installed for the first
 * time, then its function files. A file the manifest does not list, or a
 * listed file that does not exist, is an error.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/migrations/index.js';

/** `queue`: the pgmq-compatible queue, installed only when the pgmq extension is not available. `engine`: schema `pgflow`. */
export type SqlPart = 'queue' | 'engine';

export const SQL_PARTS: readonly SqlPart[] = ['queue', 'engine'];

export interface SqlSource {
  part: SqlPart;
  /** File name, e.g. `start_tasks.sql`. */
  file: string;
  /** `setup` files create tables and types; `function` files create one function (with its overloads). */
  kind: 'setup' | 'function';
  sql: string;
}

export interface SqlManifest {
  description?: string;
  queue: { setup: string[]; functions: string[] };
  engine: { setup: string[]; functions: string[] };
}

export const sqlRoot = (root = packageRoot) => join(root, 'src', 'sql');
export const sqlSourceFolder = (part: SqlPart, root = packageRoot) => join(sqlRoot(root), part);
export const sqlManifestFile = (root = packageRoot) => join(sqlRoot(root), 'manifest.json');

export function readSqlManifest(root = packageRoot): SqlManifest {
  return JSON.parse(readFileSync(sqlManifestFile(root), 'utf8')) as SqlManifest;
}

/** What is wrong between a part's folder and its manifest entry: files not listed, listed twice, or missing. */
export function manifestProblems(part: SqlPart, root = packageRoot): string[] {
  const listed = [...readSqlManifest(root)[part].setup, ...readSqlManifest(root)[part].functions];
  const present = readdirSync(sqlSourceFolder(part, root)).filter((file) => file.endsWith('.sql'));
  const problems: string[] = [];
  for (const file of present) if (!listed.includes(file)) problems.push(`src/sql/${part}/${file} is not listed in src/sql/manifest.json`);
  for (const file of listed) if (!present.includes(file)) problems.push(`src/sql/manifest.json lists ${part}/${file}, which does not exist`);
  for (const file of new Set(listed)) if (listed.indexOf(file) !== listed.lastIndexOf(file)) problems.push(`src/sql/manifest.json lists ${part}/${file} more than once`);
  return problems;
}

/** A part's sources in load order (throws when the manifest and the folder disagree). */
export function readSqlSources(part: SqlPart, root = packageRoot): SqlSource[] {
  const problems = manifestProblems(part, root);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const folder = sqlSourceFolder(part, root);
  const { setup, functions } = readSqlManifest(root)[part];
  const read = (file: string, kind: SqlSource['kind']): SqlSource => ({ part, file, kind, sql: readFileSync(join(folder, file), 'utf8') });
  return [...setup.map((file) => read(file, 'setup')), ...functions.map((file) => read(file, 'function'))];
}
