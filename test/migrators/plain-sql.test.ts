/**
 * Path 5: the plain SQL file of each release, applied with `psql -f`.
 * Released files come from migrations/sql/; the release not cut yet is
 * rendered the way the release tool will write it.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { migratePgflow } from '../../src/drizzle/migrate.js';
import { pgflowMigratorOptions } from '../../src/kysely/migrations.js';
import { bundledSchemaVersion, packageVersion, readMigrations, sqlReleaseFile, type Migration } from '../../src/migrations/index.js';
import { renderReleaseSql } from '../../src/migrations/plain-sql.js';
import { readReleaseManifest, releaseGroups, type ReleaseGroup } from '../../src/migrations/releases.js';
import { run } from '../support/processes.js';
import { PGFLOW_TABLES, installFacts, packageHistory, useFreshDatabases, type FreshDatabase } from './support/databases.js';
import { defineDiamond, diamondOutput, runStates, startRun, workUntilFinished } from './support/flows.js';
import { manifestByVersion, syntheticHistory } from './support/synthetic.js';

const PSQL = process.env.PSQL ?? '/usr/bin/psql';
const freshDatabase = useFreshDatabases();
const scratch = mkdtempSync(join(tmpdir(), 'pgflow-orm-sql-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The release files of a history, in order: shipped ones as they are, the others rendered into a scratch folder. */
function releaseFiles(migrations: Migration[], folder?: string): { group: ReleaseGroup; file: string }[] {
  const groups = releaseGroups(migrations, folder ? manifestByVersion(migrations) : readReleaseManifest(), packageVersion());
  return groups.map((group, index) => {
    const shipped = sqlReleaseFile(group.version);
    if (!folder && group.released && existsSync(shipped)) return { group, file: shipped };
    const file = join(scratch, `${index}-pgflow-orm-${group.version}.sql`);
    writeFileSync(file, renderReleaseSql(group, groups[index - 1]));
    return { group, file };
  });
}

const psql = (database: FreshDatabase, file: string, stopOnError = true) =>
  run(PSQL, ['-X', '-q', ...(stopOnError ? ['-v', 'ON_ERROR_STOP=1'] : []), '-d', database.url, '-f', file], { cwd: scratch });

async function groupsFromReleases(groups: readonly ReleaseGroup[]) {
  return groups.flatMap((group) => group.migrations).map((migration) => ({ hash: migration.hash, created_at: String(migration.when) }));
}

describe('plain SQL release files', () => {
  const migrations = readMigrations();
  const files = releaseFiles(migrations);

  it('install pgflow with psql -f, recording what drizzle records, so the other migrators take over', async () => {
    const database = await freshDatabase();
    for (const { file } of files) {
      const result = await psql(database, file);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    }
    expect(await installFacts(database)).toMatchObject({ version: bundledSchemaVersion(), schemas: ['pgflow', 'pgmq'], tables: PGFLOW_TABLES });
    expect(await packageHistory(database)).toEqual(await groupsFromReleases(files.map(({ group }) => group)));

    const flow = 'plain_sql_flow';
    await defineDiamond(database.pool(), flow);
    const runId = await startRun(database.pool(), flow, { n: 1 });
    await workUntilFinished(database.pool(), flow, [runId]);
    expect(await runStates(database.pool(), [runId])).toEqual([{ run_id: runId, status: 'completed', output: diamondOutput }]);

    expect(await migratePgflow(drizzle(database.pool()))).toEqual({ applied: [], version: bundledSchemaVersion() });
    const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: database.pool() }) });
    const adopted = await new Migrator(pgflowMigratorOptions(kysely)).migrateToLatest();
    expect(adopted.error).toBeUndefined();
    expect(await database.query(`select flow_slug from pgflow.flows`)).toEqual([{ flow_slug: flow }]);
  });

  it('refuses to install over an existing install, changing nothing', async () => {
    const database = await freshDatabase();
    for (const { file } of files) await psql(database, file);
    const before = await packageHistory(database);
    const again = await psql(database, files[0]!.file);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/ERROR: {2}pgflow is already installed in this database; pgflow-orm-[\d.]+\S*\.sql installs pgflow-orm/);
    expect(await packageHistory(database)).toEqual(before);
  });

  it('apply all or nothing: a failure part-way rolls the whole file back, even without ON_ERROR_STOP', async () => {
    const database = await freshDatabase();
    await database.query(`create function public.block_pgflow() returns event_trigger language plpgsql as $$
      begin if exists (select 1 from pg_tables where schemaname = 'pgflow' and tablename = 'runs') then raise exception 'blocked for the test'; end if; end $$`);
    await database.query(`create event trigger block_pgflow on ddl_command_end execute function public.block_pgflow()`);
    const result = await psql(database, files[0]!.file, false);
    expect(result.stderr).toMatch(/blocked for the test/);
    await database.query(`drop event trigger block_pgflow`);
    expect(await installFacts(database)).toMatchObject({ version: null, schemas: [], tables: 0 });
    expect(await packageHistory(database)).toEqual([]);
  });

  it('upgrade release by release: each later file applies on top of the one before it, and only there', async () => {
    const history = syntheticHistory(['90.0.0', '90.1.0']);
    const all = releaseFiles(history.migrations, history.folder);
    const [second, third] = all.slice(-2);
    const earlier = all.slice(0, -2);
    expect([earlier.at(-1)?.group.version, second?.group.version, third?.group.version]).toEqual([bundledSchemaVersion(), '90.0.0', '90.1.0']);

    const database = await freshDatabase();
    const tooEarly = await psql(database, second!.file);
    expect(tooEarly.stderr).toMatch(/pgflow-orm-90\.0\.0\.sql upgrades pgflow-orm [\d.]+\S* to 90\.0\.0, but this database has no pgflow installed/);
    expect(await installFacts(database)).toMatchObject({ schemas: [] });

    for (const { file } of earlier) expect((await psql(database, file)).code).toBe(0);
    const skipping = await psql(database, third!.file);
    expect(skipping.stderr).toMatch(/pgflow-orm-90\.1\.0\.sql upgrades pgflow-orm 90\.0\.0 to 90\.1\.0, but this database has pgflow-orm [\d.]+/);
    expect((await psql(database, second!.file)).code).toBe(0);
    expect((await psql(database, third!.file)).code).toBe(0);
    expect(await installFacts(database)).toMatchObject({ version: '90.1.0' });
    expect(await database.query(`select pgflow.upgrade_probe() as probe`)).toEqual([{ probe: 'probe of 90.1.0' }]);
    expect(await packageHistory(database)).toEqual(await groupsFromReleases(all.map(({ group }) => group)));
  });
});
