/**
 * One plain SQL file per release, for psql or any other migrator: the
 * release's migrations (a delta from the previous release, so applying the
 * files in order installs any version) in one transaction, under the
 * package's migration lock, recording the same rows drizzle's migrator
 * records in `drizzle.__pgflow_migrations`, so the database can later be
 * upgraded through drizzle-kit, `migratePgflow` or Kysely instead.
 */
import { MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, type Migration } from './index.js';
import { recordMigrationSql, trackingTableSql } from './apply.js';
import { LOCK_KEY } from './lock.js';
import type { ReleaseGroup } from './releases.js';

/** File name of a release's plain SQL file. */
export const releaseSqlName = (version: string) => `pgflow-orm-${version}.sql`;

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

function withSemicolon(statement: string): string {
  const trimmed = statement.trim();
  // A trailing line comment would swallow an appended semicolon, so it goes on its own line.
  return /;\s*(--[^\n]*)?$/.test(trimmed) ? trimmed : `${trimmed}\n;`;
}

function guard(release: ReleaseGroup, previous: ReleaseGroup | undefined): string {
  const file = releaseSqlName(release.version);
  if (!previous) {
    return `-- Waits for any other pgflow migrator working on this database, then checks that pgflow is not installed.
do $pgflow_release$
begin
  perform pg_advisory_xact_lock(${LOCK_KEY});
  if to_regnamespace('pgflow') is not null then
    raise exception 'pgflow is already installed in this database; ${file} installs pgflow-orm ${release.version} on a database without it'
      using hint = 'Apply only the release files newer than the installed pgflow.version(), in order.';
  end if;
end;
$pgflow_release$;`;
  }
  return `-- Waits for any other pgflow migrator working on this database, then checks the installed version.
do $pgflow_release$
declare
  v_installed text;
begin
  perform pg_advisory_xact_lock(${LOCK_KEY});
  if to_regprocedure('pgflow.version()') is null then
    raise exception '${file} upgrades pgflow-orm ${previous.version} to ${release.version}, but this database has no pgflow installed'
      using hint = 'Apply the release files in order, starting with the first release.';
  end if;
  execute 'select pgflow.version()' into v_installed;
  if v_installed is distinct from ${literal(previous.version)} then
    raise exception '${file} upgrades pgflow-orm ${previous.version} to ${release.version}, but this database has pgflow-orm %', v_installed
      using hint = 'Apply only the release files newer than the installed version, in order.';
  end if;
end;
$pgflow_release$;`;
}

function renderMigration(migration: Migration): string {
  const body = migration.statements.map(withSemicolon).join('\n\n');
  return `-- ${'-'.repeat(96)}
-- ${migration.tag}.sql (sha256 ${migration.hash})
${body}

${recordMigrationSql(migration)};`;
}

/** The plain SQL of `release`, which applies on top of `previous` (undefined for the first release). */
export function renderReleaseSql(release: ReleaseGroup, previous: ReleaseGroup | undefined): string {
  const purpose = previous
    ? `Upgrades a database at pgflow-orm ${previous.version} to ${release.version}.`
    : `Installs pgflow-orm ${release.version} in a database without pgflow.`;
  return `-- pgflow-orm ${release.version}: the release as one plain SQL file, for psql or any migrator.
-- ${purpose}
-- Apply the release files in order, each once: psql -v ON_ERROR_STOP=1 -f ${releaseSqlName(release.version)}
-- Migrations: ${release.migrations.map((migration) => migration.tag).join(', ')}.
-- They are recorded in ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE} as drizzle's migrator records them, so
-- drizzle-kit migrate, migratePgflow() or the Kysely migrator can take over later.
-- Generated from the migrations folder when the release is cut; a released file is never edited.
begin;
set local client_min_messages = warning;

${guard(release, previous)}

${trackingTableSql().map((statement) => `${statement};`).join('\n')}

${release.migrations.map(renderMigration).join('\n\n')}

commit;
`;
}
