/**
 * Works out which SQL sources a database is missing: applies each source in
 * a rolled-back transaction and compares the catalog before and after.
 */
import type pg from 'pg';
import { readSqlSources, type SqlPart, type SqlSource } from './sources.js';
import { functionDefinitions, functionVersions, routineKind } from './catalog.js';

export interface PartPlan {
  part: SqlPart;
  /** The part is not installed yet: its setup files go first. */
  firstInstall: boolean;
  setup: SqlSource[];
  /** Function files that are new or differ from what the database has. */
  functions: SqlSource[];
}

export interface FunctionMigrationPlan {
  queue: PartPlan;
  engine: PartPlan;
  /** Functions the database has that no source defines any more (`schema.name(argtypes)`). */
  dropped: string[];
  /** Those of `dropped` that are procedures (dropped with DROP PROCEDURE). */
  droppedProcedures: string[];
  /** Whether the database uses the pgmq extension (then the built-in queue is left alone). */
  pgmqExtension: boolean;
}

const PART_SCHEMA: Record<SqlPart, string> = { queue: 'pgmq', engine: 'pgflow' };

/** Functions every release migration writes itself rather than taking from a source file. */
export const GENERATED_FUNCTIONS = ['pgflow.version()'];

async function isInstalled(client: pg.ClientBase, part: SqlPart): Promise<boolean> {
  const probe = part === 'queue' ? `select to_regnamespace('pgmq') is not null as installed` : `select to_regtype('pgflow.step_task_record') is not null as installed`;
  const { rows } = await client.query<{ installed: boolean }>(probe);
  return rows[0]?.installed ?? false;
}

export async function usesPgmqExtension(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query(`select 1 from pg_extension where extname = 'pgmq'`);
  return rows.length > 0;
}

async function planPart(client: pg.ClientBase, part: SqlPart, touched: Set<string>): Promise<PartPlan> {
  const sources = readSqlSources(part);
  const setup = sources.filter((source) => source.kind === 'setup');
  const firstInstall = !(await isInstalled(client, part));
  const functions: SqlSource[] = [];
  const schemas = [PART_SCHEMA[part]];
  if (firstInstall) {
    await client.query(`create schema if not exists ${PART_SCHEMA[part]}`);
    for (const source of setup) await client.query(source.sql);
  }
  for (const source of sources.filter((candidate) => candidate.kind === 'function')) {
    const before = await functionDefinitions(client, schemas);
    const versionsBefore = await functionVersions(client, schemas);
    await client.query('savepoint source');
    await client.query(source.sql);
    const versionsAfter = await functionVersions(client, schemas);
    const signatures = [...versionsAfter].filter(([signature, version]) => versionsBefore.get(signature) !== version).map(([signature]) => signature);
    const after = await functionDefinitions(client, schemas);
    await client.query('rollback to savepoint source');
    if (signatures.length === 0) throw new Error(`src/sql/${part}/${source.file} defines no function in schema ${PART_SCHEMA[part]}`);
    for (const signature of signatures) touched.add(signature);
    if (signatures.some((signature) => before.get(signature) !== after.get(signature))) functions.push(source);
  }
  return { part, firstInstall, setup: firstInstall ? setup : [], functions };
}

/**
 * Plans the migration that brings the database behind `client` up to the
 * current sources. Runs inside a transaction that it rolls back.
 */
export async function planFunctionMigration(client: pg.ClientBase): Promise<FunctionMigrationPlan> {
  await client.query('begin');
  try {
    await client.query('set local check_function_bodies = off');
    const pgmqExtension = await usesPgmqExtension(client);
    const touched = new Set<string>(GENERATED_FUNCTIONS);
    const queue = pgmqExtension ? { part: 'queue' as const, firstInstall: false, setup: [], functions: [] } : await planPart(client, 'queue', touched);
    const engine = await planPart(client, 'engine', touched);
    const existing = await functionDefinitions(client, pgmqExtension ? ['pgflow'] : ['pgflow', 'pgmq']);
    const dropped = [...existing.keys()].filter((signature) => !touched.has(signature));
    const droppedProcedures = dropped.filter((signature) => routineKind(existing.get(signature)!) === 'procedure');
    return { queue, engine, dropped, droppedProcedures, pgmqExtension };
  } finally {
    await client.query('rollback');
  }
}

export function planIsEmpty(plan: FunctionMigrationPlan): boolean {
  return plan.queue.functions.length === 0 && plan.engine.functions.length === 0 && plan.dropped.length === 0 && !plan.queue.firstInstall && !plan.engine.firstInstall;
}
