/**
 * What `drizzle-kit push` would change to make a database's schema `pgflow`
 * match schema.ts, using `pushSchema` from `drizzle-kit/api` (never applied).
 *
 * drizzle-kit 0.31's `pushSchema` hands its introspection queries to
 * `drizzle.execute(sql.raw(text))` and drops their parameters, but the lookup
 * of a composite primary key's name is written with `$1` (schema) and `$2`
 * (table), so it fails with "there is no parameter $1" on any table with a
 * composite key (drizzle-team/drizzle-orm#5557). We therefore introspect one
 * table at a time (pushSchema's `tablesFilter`) through a `drizzle`-shaped
 * executor that supplies those two parameters for the table being read.
 *
 * The same executor makes two other introspection queries deterministic:
 * drizzle-kit reads the columns of a composite primary key or unique
 * constraint, and the column pairs of a composite foreign key, in whatever
 * order the server returns rows, and compares them as ordered lists. On
 * PostgreSQL 18 that turns `deps_pkey` into a phantom drop-and-add
 * (drizzle-team/drizzle-orm#6078, #6193, #6256). Ordering the rows by key
 * position, as PostgreSQL records it in `pg_constraint`, gives drizzle-kit
 * the declared order. Nothing else about the queries changes.
 */
import { getTableConfig, PgDialect, type PgTable } from 'drizzle-orm/pg-core';
import type { SQL } from 'drizzle-orm';
import { pushSchema } from 'drizzle-kit/api';
import type pg from 'pg';
import * as schema from '../../schema.js';

export const TABLES = {
  flows: schema.flows,
  steps: schema.steps,
  deps: schema.deps,
  runs: schema.runs,
  step_states: schema.stepStates,
  step_tasks: schema.stepTasks,
  workers: schema.workers,
  schedules: schema.schedules,
  schedule_ticks: schema.scheduleTicks,
  role_access: schema.roleAccess,
} satisfies Record<string, PgTable>;

export type TableName = keyof typeof TABLES;
export const TABLE_NAMES = Object.keys(TABLES) as TableName[];

export interface PushDiff {
  hasDataLoss: boolean;
  warnings: string[];
  statementsToExecute: string[];
}

const dialect = new PgDialect();
const PARAMETER = /\$\d+/g;

/** Position of `column` in the key of constraint `constraint` (of table `table`, or of the table it references). */
const keyPosition = (table: string, constraint: string, column: string, side: 'conkey' | 'confkey') => `(
  select array_position(k.${side}, a.attnum)
    from pg_catalog.pg_constraint k
    join pg_catalog.pg_attribute a on a.attrelid = ${side === 'conkey' ? 'k.conrelid' : 'k.confrelid'} and a.attname = ${column}
   where k.conrelid = 'pgflow.${table}'::regclass and k.conname = ${constraint})`;

/** Rewrites the introspection queries that need it (see the top of this file); returns the rest unchanged. */
function introspectionQuery(text: string, table: string, rewritten: Set<string>): { text: string; values: unknown[] } {
  const statement = text.trim().replace(/;$/, '');
  const placeholders = new Set(text.match(PARAMETER) ?? []);
  if (placeholders.size > 0) {
    if (!/connamespace = \$1::regnamespace\s+AND\s+pg_class\.relname = \$2/.test(text) || placeholders.size !== 2) {
      throw new Error(`push-diff: unexpected parameterised introspection query:\n${text}`);
    }
    return { text, values: ['pgflow', table] };
  }
  if (statement.includes('information_schema.constraint_column_usage') && statement.includes(`tc.table_name = '${table}'`)) {
    rewritten.add('key columns');
    return { text: `select q.* from (${statement}) q order by q.constraint_name, ${keyPosition(table, 'q.constraint_name', 'q.column_name', 'conkey')}`, values: [] };
  }
  if (statement.includes("con.contype IN ('f')") && statement.includes(`rel.relname = '${table}'`)) {
    rewritten.add('foreign keys');
    return {
      text: `select q.* from (${statement}) q order by q.constraint_name, ${keyPosition(table, 'q.constraint_name', 'q.column_name', 'conkey')}, ${keyPosition(table, 'q.constraint_name', 'q.foreign_column_name', 'confkey')}`,
      values: [],
    };
  }
  return { text, values: [] };
}

/** A stand-in for a Drizzle database: the only method pushSchema uses is `execute`. */
function introspectionExecutor(pool: pg.Pool, table: string, rewritten: Set<string>) {
  return {
    async execute(query: SQL) {
      const { text, values } = introspectionQuery(dialect.sqlToQuery(query).sql, table, rewritten);
      return { rows: (await pool.query(text, values)).rows };
    },
  };
}

/** drizzle-kit draws a progress spinner on stdout while it introspects; keep test output readable. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await run();
  } finally {
    process.stdout.write = write;
  }
}

/** The push diff for one table of schema.ts against the same table in the database. */
export async function pushDiff(pool: pg.Pool, table: TableName, schemaFilter: string[] = ['pgflow']): Promise<PushDiff> {
  const definition = TABLES[table];
  const name = getTableConfig(definition).name;
  const rewritten = new Set<string>();
  const { hasDataLoss, warnings, statementsToExecute } = await quietly(() =>
    pushSchema({ pgflow: schema.pgflow, [table]: definition }, introspectionExecutor(pool, name, rewritten) as never, schemaFilter, [name]),
  );
  // drizzle-kit reads both for every table; if its queries change, the ordering above must be revisited.
  if (rewritten.size !== 2) throw new Error(`push-diff: drizzle-kit's introspection of ${name} no longer matches the queries this file orders (${[...rewritten].join(', ') || 'none'})`);
  return { hasDataLoss, warnings, statementsToExecute };
}

/** The push diff restricted to an explicit list of table-name globs (no schema.ts tables). */
export async function pushDiffOfOthers(pool: pg.Pool, schemaFilter: string[], tablesFilter: string[]): Promise<PushDiff> {
  const { hasDataLoss, warnings, statementsToExecute } = await quietly(() =>
    pushSchema({ pgflow: schema.pgflow }, introspectionExecutor(pool, '', new Set()) as never, schemaFilter, tablesFilter),
  );
  return { hasDataLoss, warnings, statementsToExecute };
}
