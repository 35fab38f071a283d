/**
 * The release tool (`npm run release:cut`) on a copy of the history: it
 * records the unreleased migrations with their hashes, writes the plain SQL
 * file (a delta from the previous release) and the down files of function
 * migrations, proves them on a scratch database, and refuses what would
 * break a release.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { toExecutor } from '../../src/core/connection.js';
import { applyBundledMigrations } from '../../src/migrations/apply.js';
import { bundledSchemaVersion, downMigrationFile, migrationsFolder, readMigrations, sha256, splitStatements, sqlReleaseFile } from '../../src/migrations/index.js';
import { renderReleaseSql } from '../../src/migrations/plain-sql.js';
import { readReleaseManifest, releaseGroups } from '../../src/migrations/releases.js';
import { cutRelease } from '../../scripts/release/cut-release.js';
import { writeDownMigrations } from '../../scripts/release/down-migrations.js';
import type { ScratchServer } from '../../scripts/release/scratch.js';
import { createDatabase, databaseUrl, dropDatabase } from '../support/database.js';
import { useFreshDatabases } from './support/databases.js';
import { appendSyntheticReleases, syntheticHistory } from './support/synthetic.js';

const freshDatabase = useFreshDatabases();
const quiet = () => {};

/** The release tool's scratch databases, on the test server. */
const testServer: ScratchServer = {
  async withDatabase(use) {
    const name = await createDatabase(false);
    const client = new pg.Client({ connectionString: databaseUrl(name) });
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end();
      await dropDatabase(name);
    }
  },
  async stop() {},
};

const current = bundledSchemaVersion();
const newestTag = (folder: string) => readMigrations(folder).at(-1)!.tag;

describe('release:cut', () => {
  it('records the unreleased migrations with their hashes and writes the release SQL file', async () => {
    const { folder, migrations } = syntheticHistory([]);
    const { release, written } = await cutRelease({ folder, version: current, server: testServer, log: quiet });
    expect(release.version).toBe(current);
    expect(release.migrations).toEqual(
      migrations.map((migration) => ({ tag: migration.tag, sha256: migration.hash, downSha256: sha256(readFileSync(downMigrationFile(migration.tag, folder), 'utf8')) })),
    );
    expect(written).toEqual([`sql/pgflow-orm-${current}.sql`, 'releases.json']);
    const sql = readFileSync(sqlReleaseFile(current, folder), 'utf8');
    expect(release.sql).toEqual({ file: `sql/pgflow-orm-${current}.sql`, sha256: sha256(sql) });
    expect(sql).toBe(renderReleaseSql(releaseGroups(migrations, readReleaseManifest(folder))[0]!, undefined));
    expect(readReleaseManifest(folder)).toEqual({ releases: [release] });
    await expect(cutRelease({ folder, version: '90.0.0', server: testServer, log: quiet })).rejects.toThrow(/every migration is released already/);
  });

  it('cuts the next release as a delta with generated down files that put the earlier functions back', async () => {
    const { folder } = syntheticHistory([]);
    await cutRelease({ folder, version: current, verify: false, log: quiet });
    appendSyntheticReleases(folder, ['90.0.0']);
    const added = newestTag(folder);
    const next = await cutRelease({ folder, version: '90.0.0', server: testServer, log: quiet });
    expect(next.release.migrations.map((migration) => migration.tag)).toEqual([added]);
    expect(next.written).toEqual(['sql/pgflow-orm-90.0.0.sql', `down/${added}.sql`, 'releases.json']);
    const delta = readFileSync(sqlReleaseFile('90.0.0', folder), 'utf8');
    expect(delta).toContain(`upgrades pgflow-orm ${current} to 90.0.0`);
    expect(delta).not.toContain('0000_pgflow_tables.sql');

    appendSyntheticReleases(folder, ['90.1.0']);
    const changed = newestTag(folder);
    await cutRelease({ folder, version: '90.1.0', server: testServer, log: quiet });
    const migrations = readMigrations(folder);
    const database = await freshDatabase();
    const client = await database.connect();
    await applyBundledMigrations(toExecutor(client), { migrations });
    expect(await database.query(`select pgflow.version() as version, pgflow.upgrade_probe() as probe`)).toEqual([{ version: '90.1.0', probe: 'probe of 90.1.0' }]);
    // 90.1.0 changed the probe: its down puts the 90.0.0 definition back.
    for (const statement of splitStatements(readFileSync(downMigrationFile(changed, folder), 'utf8'))) await client.query(statement);
    expect(await database.query(`select pgflow.version() as version, pgflow.upgrade_probe() as probe`)).toEqual([{ version: '90.0.0', probe: 'probe of 90.0.0' }]);
    // 90.0.0 added the probe: its down drops it again.
    for (const statement of splitStatements(readFileSync(downMigrationFile(added, folder), 'utf8'))) await client.query(statement);
    expect(await database.query(`select pgflow.version() as version, to_regprocedure('pgflow.upgrade_probe()') as probe`)).toEqual([{ version: current, probe: null }]);
  });

  it('keeps the generated down file of an unreleased migration in step, and leaves hand-written ones alone', async () => {
    const { folder, migrations } = syntheticHistory(['90.0.0']);
    const tag = newestTag(folder);
    expect(await writeDownMigrations(testServer, folder)).toEqual([`down/${tag}.sql`]);
    expect(await writeDownMigrations(testServer, folder)).toEqual([]);
    // `npm run db:functions` rewrites the unreleased functions migration: its down file follows.
    writeFileSync(
      join(folder, `${tag}.sql`),
      `${migrations.at(-1)!.sql}--> statement-breakpoint\ncreate function pgflow.second_probe() returns int language sql as $$ select 2 $$;\n`,
    );
    expect(await writeDownMigrations(testServer, folder)).toEqual([`down/${tag}.sql`]);
    expect(readFileSync(downMigrationFile(tag, folder), 'utf8')).toContain('drop function if exists pgflow.second_probe();');
    for (const migration of migrations.slice(0, -1)) {
      expect(readFileSync(downMigrationFile(migration.tag, folder), 'utf8')).toBe(readFileSync(downMigrationFile(migration.tag, migrationsFolder), 'utf8'));
    }
  });

  it('refuses a version the migrations do not set, a badly named migration and an edited released file', async () => {
    const { folder, migrations } = syntheticHistory([]);
    await expect(cutRelease({ folder, version: '90.0.0', verify: false, log: quiet })).rejects.toThrow(
      new RegExp(`the migrations set pgflow.version\\(\\) to ${current.replace(/\./g, '\\.')}, not 90\\.0\\.0: run \`npm run db:functions\` first`),
    );
    await cutRelease({ folder, version: current, verify: false, log: quiet });
    await expect(cutRelease({ folder, version: current, verify: false, log: quiet })).rejects.toThrow(/every migration is released already/);

    appendSyntheticReleases(folder, ['90.0.0']);
    const added = newestTag(folder);
    const badlyNamed = `${added.slice(0, 4)}_brave_hulk`;
    const journalPath = join(folder, 'meta', '_journal.json');
    const journal = readFileSync(journalPath, 'utf8');
    writeFileSync(journalPath, journal.replace(added, badlyNamed));
    writeFileSync(join(folder, `${badlyNamed}.sql`), readFileSync(join(folder, `${added}.sql`)));
    await expect(cutRelease({ folder, version: '90.0.0', verify: false, log: quiet })).rejects.toThrow(new RegExp(`${badlyNamed} is not named <nnnn>_pgflow_<what>`));
    writeFileSync(journalPath, journal);

    await expect(cutRelease({ folder, version: '0.0.1', verify: false, log: quiet })).rejects.toThrow(/0\.0\.1 is not newer than the latest release/);
    writeFileSync(join(folder, `${migrations[0]!.tag}.sql`), `${migrations[0]!.sql}\n-- edited\n`);
    await expect(cutRelease({ folder, version: '90.0.0', verify: false, log: quiet })).rejects.toThrow(/released files changed:\n- migration 0000_pgflow_tables/);
    expect(existsSync(sqlReleaseFile('90.0.0', folder))).toBe(false);
  });
});
