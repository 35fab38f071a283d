/**
 * The SQL sources load in the order src/sql/manifest.json gives: every .sql
 * file of src/sql/<part>/ is listed exactly once, and a file missing from the
 * manifest (or a listed file that is gone) stops the functions-migration
 * generator instead of being applied in some guessed order.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { manifestProblems, readSqlManifest, readSqlSources, SQL_PARTS, sqlRoot } from '../../scripts/release/sources.js';
import { repoRoot } from '../support/paths.js';

const copies: string[] = [];
afterAll(() => {
  for (const copy of copies) rmSync(copy, { recursive: true, force: true });
});

/** A copy of src/sql in a scratch folder laid out like the repository. */
function copyOfSources(): string {
  const root = mkdtempSync(join(tmpdir(), 'pgflow-sql-manifest-'));
  copies.push(root);
  cpSync(sqlRoot(repoRoot), sqlRoot(root), { recursive: true });
  return root;
}

describe('src/sql/manifest.json', () => {
  it.each(SQL_PARTS)('lists every %s source exactly once, and nothing else', (part) => {
    expect(manifestProblems(part)).toEqual([]);
  });

  it.each(SQL_PARTS)('gives the %s sources their load order: setup files first, then functions, as listed', (part) => {
    const manifest = readSqlManifest()[part];
    const sources = readSqlSources(part);
    expect(sources.map((source) => source.file)).toEqual([...manifest.setup, ...manifest.functions]);
    expect(sources.filter((source) => source.kind === 'setup').map((source) => source.file)).toEqual(manifest.setup);
    expect(manifest.setup.length).toBeGreaterThan(0);
  });

  it('a source missing from the manifest stops the generator, naming the file', () => {
    const root = copyOfSources();
    writeFileSync(join(sqlRoot(root), 'engine', 'new_function.sql'), 'create function pgflow.new_function() returns int language sql as $$ select 1 $$;\n');
    expect(manifestProblems('engine', root)).toEqual(['src/sql/engine/new_function.sql is not listed in src/sql/manifest.json']);
    expect(() => readSqlSources('engine', root)).toThrow(/new_function\.sql is not listed/);
  });

  it('a listed source that does not exist stops the generator too', () => {
    const root = copyOfSources();
    rmSync(join(sqlRoot(root), 'queue', 'send.sql'));
    expect(() => readSqlSources('queue', root)).toThrow(/lists queue\/send\.sql, which does not exist/);
  });
});
