/**
 * The SQL reference names every function: each function of schemas `pgflow`
 * and `pgmq` in a migrated database has a row in docs/reference/sql.md's
 * "Every function" table, with the argument list and result type the
 * database reports, and the table names no function the database lacks.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { repoRoot } from '../support/paths.js';

const db = useTestDatabase();

interface FunctionRow {
  schema: string;
  name: string;
  args: string;
  result: string;
  kind: string;
}

/** `pgflow.start_flow(flow_slug text, input jsonb, …)`, as the reference's rows write it. */
const signature = (row: FunctionRow) => `${row.schema}.${row.name}(${row.args})`;

/** The signatures in the first column of the "Every function" table. */
function documented(page: string): Map<string, string> {
  const section = page.slice(page.indexOf('## Every function'));
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const match = /^\| `([^`]+)` \| `([^`]*)` \|/.exec(line);
    if (match) rows.set(match[1]!, match[2]!);
  }
  return rows;
}

describe('docs/reference/sql.md', () => {
  it('lists every function of pgflow and pgmq with its arguments and result, and nothing else', async () => {
    const functions = await db.query<FunctionRow>(`
      select n.nspname as schema, p.proname as name, pg_get_function_identity_arguments(p.oid) as args,
             coalesce(pg_get_function_result(p.oid), '') as result, p.prokind as kind
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('pgflow', 'pgmq')
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
      order by n.nspname, p.proname, args`);
    const page = readFileSync(join(repoRoot, 'docs', 'reference', 'sql.md'), 'utf8');
    const rows = documented(page);
    const expected = new Map(functions.map((row) => [signature(row), row.kind === 'p' ? 'procedure' : row.result]));
    if (process.env.PGFLOW_WRITE_SQL_INDEX) {
      writeFileSync(PGFLOW_INDEX_FILE, functions.map((row) => `| \`${signature(row)}\` | \`${expected.get(signature(row))}\` | |`).join('\n'));
    }
    expect(functions.length).toBeGreaterThan(50);
    expect([...rows.keys()].filter((name) => !expected.has(name)), 'documented, but not in the database').toEqual([]);
    expect([...expected.keys()].filter((name) => !rows.has(name)), 'in the database, but not documented').toEqual([]);
    for (const [name, result] of expected) expect(rows.get(name), `the result of ${name}`).toBe(result);
  });
});

const PGFLOW_INDEX_FILE = join(repoRoot, '.tmp', 'sql-index.md');
