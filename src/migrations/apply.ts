/**
 * Applies the bundled history the way drizzle's migrator does, with the same
 * bookkeeping (`drizzle.__pgflow_migrations`: `hash` = sha256 of the file,
 * `created_at` = the journal's `when`), so a database installed here can be
 * upgraded later with `drizzle-kit migrate --config node_modules/pgflow-orm/drizzle.config.ts`
 * and the other way round. Unlike drizzle's migrator it holds an advisory
 * lock for the whole run, so concurrent callers wait for each other and then
 * find nothing left to do, and it refuses clearly when pgflow was installed
 * by another migrator.
 */
import type { SqlExecutor } from '../core/connection.js';
import { KYSELY_MIGRATION_TABLE, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, readMigrations, type Migration } from './index.js';
import { MIGRATION_LOCK_SQL, MIGRATION_UNLOCK_SQL } from './lock.js';

export interface ApplyOptions {
  /** The history to apply; the bundled one by default. */
  migrations?: readonly Migration[];
  /** Where the applied migrations are recorded; `drizzle.__pgflow_migrations` by default. */
  migrationsSchema?: string;
  migrationsTable?: string;
}

export interface ApplyResult {
  /** Tags applied by this call, oldest first (empty when the database was up to date). */
  applied: string[];
  /** `pgflow.version()` after the call. */
  version: string | undefined;
}

/** A migration could not be applied, or the database is not in a state this migrator can handle. */
export class PgflowMigrationError extends Error {
  override name = 'PgflowMigrationError';
}

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** SQL that creates the bookkeeping table exactly as drizzle's migrator does. */
export function trackingTableSql(schema = MIGRATIONS_SCHEMA, table = MIGRATIONS_TABLE): string[] {
  return [
    `create schema if not exists ${quoteIdent(schema)}`,
    `create table if not exists ${quoteIdent(schema)}.${quoteIdent(table)} (
  id serial primary key,
  hash text not null,
  created_at bigint
)`,
  ];
}

export function recordMigrationSql(migration: Pick<Migration, 'hash' | 'when'>, schema = MIGRATIONS_SCHEMA, table = MIGRATIONS_TABLE): string {
  return `insert into ${quoteIdent(schema)}.${quoteIdent(table)} (hash, created_at) values (${quoteLiteral(migration.hash)}, ${migration.when})`;
}

/** The rows of the package's bookkeeping table, or undefined when the table does not exist. */
export async function readAppliedMigrations(
  session: SqlExecutor,
  schema = MIGRATIONS_SCHEMA,
  table = MIGRATIONS_TABLE,
): Promise<{ hash: string; createdAt: number }[] | undefined> {
  const [probe] = await session.query<{ present: boolean }>(
    `select to_regclass(${quoteLiteral(`${quoteIdent(schema)}.${quoteIdent(table)}`)}) is not null as present`,
  );
  if (!probe?.present) return undefined;
  const rows = await session.query<{ hash: string; created_at: string | number | null }>(
    `select hash, created_at from ${quoteIdent(schema)}.${quoteIdent(table)} order by created_at`,
  );
  return rows.map((row) => ({ hash: row.hash, createdAt: Number(row.created_at) }));
}

export async function isPgflowInstalled(session: SqlExecutor): Promise<boolean> {
  const [row] = await session.query<{ installed: boolean }>(`select to_regnamespace('pgflow') is not null as installed`);
  return row?.installed ?? false;
}

export async function installedVersion(session: SqlExecutor): Promise<string | undefined> {
  const [row] = await session.query<{ present: boolean }>(`select to_regprocedure('pgflow.version()') is not null as present`);
  if (!row?.present) return undefined;
  const [version] = await session.query<{ version: string }>('select pgflow.version() as version');
  return version?.version;
}

/** Names the migrator that installed pgflow, when it is not the package's own history table. */
export async function describeOtherInstaller(session: SqlExecutor, migrations: readonly Migration[] = readMigrations()): Promise<string> {
  const [kysely] = await session.query<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name from pg_catalog.pg_class c
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.relname = ${quoteLiteral(KYSELY_MIGRATION_TABLE)} and c.relkind = 'r' limit 1`,
  );
  if (kysely) {
    const [recorded] = await session.query(`select 1 from ${kysely.name} limit 1`).catch(() => []);
    if (recorded) return `Kysely's Migrator (recorded in ${kysely.name}); keep upgrading it with the Kysely migrator`;
  }
  const hashes = migrations.map((migration) => quoteLiteral(migration.hash)).join(', ');
  const tables = await session.query<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name from pg_catalog.pg_class c
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r'
        and exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attname = 'hash' and not a.attisdropped)
        and exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attname = 'created_at' and not a.attisdropped)
        and not (n.nspname = ${quoteLiteral(MIGRATIONS_SCHEMA)} and c.relname = ${quoteLiteral(MIGRATIONS_TABLE)})`,
  );
  for (const { name } of tables) {
    const [hit] = await session.query(`select 1 from ${name} where hash in (${hashes}) limit 1`).catch(() => []);
    if (hit) return `the app's own drizzle migrations (recorded in ${name}, e.g. after \`pgflow-orm drizzle add\`); keep upgrading it with \`pgflow-orm drizzle add\` and \`drizzle-kit migrate\``;
  }
  return 'something other than the package migrations (no migrator records it)';
}

async function applyLocked(session: SqlExecutor, migrations: readonly Migration[], schema: string, table: string): Promise<ApplyResult> {
  const applied = await readAppliedMigrations(session, schema, table);
  if ((applied === undefined || applied.length === 0) && (await isPgflowInstalled(session))) {
    throw new PgflowMigrationError(
      `pgflow is already installed in this database, but ${schema}.${table} has no record of it: it was installed by ${await describeOtherInstaller(session, migrations)}.`,
    );
  }
  if (applied !== undefined && applied.length > 0 && !(await isPgflowInstalled(session))) {
    throw new PgflowMigrationError(
      `${schema}.${table} records ${applied.length} pgflow migrations, but schema "pgflow" is missing (removed by hand?); ` +
        `to install pgflow again, empty the record first: delete from ${quoteIdent(schema)}.${quoteIdent(table)}`,
    );
  }
  const last = applied?.reduce((newest, row) => Math.max(newest, row.createdAt), -Infinity);
  const pending = migrations.filter((migration) => last === undefined || !Number.isFinite(last) || last < migration.when);
  if (pending.length === 0) return { applied: [], version: await installedVersion(session) };
  await session.query('begin');
  try {
    for (const statement of trackingTableSql(schema, table)) await session.query(statement);
    for (const migration of pending) {
      for (const statement of migration.statements) {
        try {
          await session.query(statement);
        } catch (error) {
          throw new PgflowMigrationError(`pgflow migration ${migration.tag} failed: ${(error as Error).message}`, { cause: error });
        }
      }
      await session.query(recordMigrationSql(migration, schema, table));
    }
    await session.query('commit');
  } catch (error) {
    await session.query('rollback').catch(() => {});
    throw error;
  }
  return { applied: pending.map((migration) => migration.tag), version: await installedVersion(session) };
}

/**
 * Installs or upgrades pgflow over `session`, which must be one dedicated
 * connection (the lock is a session lock and the migrations run in one
 * transaction on it).
 */
export async function applyBundledMigrations(session: SqlExecutor, options: ApplyOptions = {}): Promise<ApplyResult> {
  const migrations = options.migrations ?? readMigrations();
  const schema = options.migrationsSchema ?? MIGRATIONS_SCHEMA;
  const table = options.migrationsTable ?? MIGRATIONS_TABLE;
  await session.query(MIGRATION_LOCK_SQL);
  try {
    return await applyLocked(session, migrations, schema, table);
  } finally {
    await session.query(MIGRATION_UNLOCK_SQL).catch(() => {});
  }
}
