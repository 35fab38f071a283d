/**
 * The SQL sources of the engine and of the built-in queue: one function per
 * file under `src/sql/<part>/`. Files whose name starts with `_` hold the
 * objects a function needs (schemas, tables, types); they are applied first,
 * in name order, and only when a part is installed for the first time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/migrations/index.js';

/** `queue`: the pgmq-compatible queue, installed only when the pgmq extension is not available. `engine`: schema `pgflow`. */
export type SqlPart = 'queue' | 'engine';

export interface SqlSource {
  part: SqlPart;
  /** File name, e.g. `start_tasks.sql`. */
  file: string;
  /** `setup` files create tables and types; `function` files create one function (with its overloads). */
  kind: 'setup' | 'function';
  sql: string;
}

export const sqlSourceFolder = (part: SqlPart) => join(packageRoot, 'src', 'sql', part);

export function readSqlSources(part: SqlPart): SqlSource[] {
  const folder = sqlSourceFolder(part);
  return readdirSync(folder)
    .filter((file) => file.endsWith('.sql'))
    .sort((a, b) => {
      const setupFirst = Number(!a.startsWith('_')) - Number(!b.startsWith('_'));
      return setupFirst !== 0 ? setupFirst : a.localeCompare(b);
    })
    .map((file) => ({
      part,
      file,
      kind: file.startsWith('_') ? 'setup' : 'function',
      sql: readFileSync(join(folder, file), 'utf8'),
    }));
}
