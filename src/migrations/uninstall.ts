/**
 * Removing pgflow from a database installed through the package history
 * (drizzle-kit with the package's config, `migratePgflow`, `pgflow-orm
 * migrate` or the plain SQL files): the down files newest first, then the
 * history's rows, in one transaction under the migration lock. Kysely
 * installs are removed with Kysely's own `migrateTo(NO_MIGRATIONS)`, which
 * runs the same down files; this refuses them so Kysely's record stays true.
 */
import { existsSync, readFileSync } from 'node:fs';
import { downMigrationFile, KYSELY_MIGRATION_TABLE, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, migrationsFolder, readMigrations, splitStatements, type Migration } from './index.js';
import { LOCK_KEY } from './lock.js';

const withSemicolon = (statement: string) => (/;\s*(--[^\n]*)?$/.test(statement.trim()) ? statement.trim() : `${statement.trim()}\n;`);

/** The SQL that removes pgflow, for `pgflow-orm uninstall` and `pgflow-orm sql --uninstall`. */
export function renderUninstallSql(migrations: readonly Migration[] = readMigrations(), folder = migrationsFolder): string {
  const downs = [...migrations].reverse().map((migration) => {
    const path = downMigrationFile(migration.tag, folder);
    if (!existsSync(path)) throw new Error(`pgflow-orm ships no down migration for ${migration.tag}`);
    return `-- down/${migration.tag}.sql\n${splitStatements(readFileSync(path, 'utf8')).map(withSemicolon).join('\n\n')}`;
  });
  const history = `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`;
  return `-- Removes pgflow from this database: schema pgflow with every flow and run, and the task queue
-- (schema pgmq of the built-in queue, or only the flows' queues when the pgmq extension is used),
-- then forgets the install in ${history}. A database installed with Kysely's Migrator is
-- refused: migrate it down with migrateTo(NO_MIGRATIONS) instead.
begin;
set local client_min_messages = warning;

do $pgflow_uninstall$
declare
  v_kysely regclass;
  v_recorded boolean;
begin
  perform pg_advisory_xact_lock(${LOCK_KEY});
  for v_kysely in
    select c.oid::regclass from pg_catalog.pg_class c where c.relname = '${KYSELY_MIGRATION_TABLE}' and c.relkind = 'r'
  loop
    execute format('select exists (select 1 from %s)', v_kysely) into v_recorded;
    if v_recorded then
      raise exception 'pgflow was installed with Kysely''s Migrator (recorded in %); remove it with migrateTo(NO_MIGRATIONS)', v_kysely;
    end if;
  end loop;
end;
$pgflow_uninstall$;

${downs.join('\n\n')}

do $pgflow_uninstall$
begin
  if to_regclass('${history}') is not null then
    execute 'delete from ${history}';
  end if;
end;
$pgflow_uninstall$;

commit;
`;
}
