/**
 * Both supported major versions of postgres.js, for tests that must pass on
 * each: `postgres` is the 4.x line, `postgres-3` (an npm alias) the 3.4 line.
 * The package's peer range for postgres.js names exactly these two majors.
 */
import { readFileSync } from 'node:fs';
import postgres4 from 'postgres';
import postgres3 from 'postgres-3';

/** The type every test uses for a postgres.js instance of either major. */
export type PostgresJsSql = postgres4.Sql;

export interface PostgresJsVersion {
  /** e.g. `postgres.js 4.2.0`, for test names. */
  name: string;
  major: 3 | 4;
  /** Creates an instance; the options are the subset both majors share. */
  connect(url: string, options?: { max?: number; onnotice?: (notice: unknown) => void }): PostgresJsSql;
}

/** The installed version (postgres.js does not export its package.json). */
const versionOf = (name: string) =>
  (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;

export const POSTGRES_JS: readonly PostgresJsVersion[] = [
  { name: `postgres.js ${versionOf('postgres-3')}`, major: 3, connect: (url, options) => postgres3(url, options) as unknown as PostgresJsSql },
  { name: `postgres.js ${versionOf('postgres')}`, major: 4, connect: (url, options) => postgres4(url, options) },
];
