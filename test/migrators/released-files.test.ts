/**
 * The shipped history obeys the rules every migrator relies on: released
 * files never change (checked against migrations/releases.json once it
 * exists), names identify migrations, the journal's timestamps only grow,
 * and every migration can be reverted.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  downMigrationFile,
  MIGRATION_TAG_PATTERN,
  migrationsFolder,
  packageVersion,
  readJournal,
  readMigrations,
  schemaVersionOf,
} from '../../src/migrations/index.js';
import { readReleaseManifest, releaseGroups, releasesFile } from '../../src/migrations/releases.js';
import { releasedFileProblems } from '../../scripts/release/cut-release.js';
import { writeReleases } from '../../scripts/release/releases.js';
import { manifestByVersion, syntheticHistory } from './support/synthetic.js';

const hasManifest = existsSync(releasesFile());

describe('the shipped migration history', () => {
  const migrations = readMigrations();
  const journal = readJournal();

  it.skipIf(!hasManifest)('has every released file exactly as it was released (migrations/releases.json)', () => {
    expect(releasedFileProblems()).toEqual([]);
  });

  it.skipIf(!hasManifest)('lists the releases in the journal order, each file shipped and no stray release file', () => {
    const manifest = readReleaseManifest();
    const groups = releaseGroups(migrations, manifest, packageVersion());
    expect(groups.filter((group) => group.released).map((group) => group.version)).toEqual(manifest.releases.map((release) => release.version));
    const listed = manifest.releases.flatMap((release) => (release.sql ? [release.sql.file] : []));
    expect(listed).toHaveLength(manifest.releases.length);
    const sqlFolder = join(migrationsFolder, 'sql');
    expect(existsSync(sqlFolder) ? readdirSync(sqlFolder).map((file) => `sql/${file}`).sort() : []).toEqual([...listed].sort());
    for (const release of manifest.releases) for (const migration of release.migrations) expect(migration.downSha256, migration.tag).toBeDefined();
  });

  it('names every migration <nnnn>_pgflow_<what>, uniquely, so copies in apps are recognised by name', () => {
    for (const migration of migrations) expect(migration.tag).toMatch(MIGRATION_TAG_PATTERN);
    const names = migrations.map((migration) => migration.tag.replace(/^\d+_/, ''));
    expect(new Set(names).size).toBe(names.length);
  });

  it("orders the journal by strictly growing timestamps (drizzle skips an entry older than the newest applied)", () => {
    for (let index = 1; index < journal.length; index++) expect(journal[index]!.when).toBeGreaterThan(journal[index - 1]!.when);
    expect(journal.map((entry) => entry.idx)).toEqual(journal.map((_, index) => index));
  });

  it('ends with a migration that sets pgflow.version()', () => {
    expect(schemaVersionOf(migrations.slice(-1))).toBeDefined();
  });

  it('has a down file for every migration except, at most, the newest unreleased ones', () => {
    const released = new Set(readReleaseManifest().releases.flatMap((release) => release.migrations.map((migration) => migration.tag)));
    const missing = migrations.filter((migration) => !existsSync(downMigrationFile(migration.tag)));
    for (const migration of missing) expect(released.has(migration.tag), `${migration.tag} is released without a down file`).toBe(false);
    expect(existsSync(downMigrationFile(migrations[0]!.tag))).toBe(true);
  });

  it('notices an edited released file', () => {
    const { folder, migrations: history } = syntheticHistory(['90.0.0']);
    writeReleases(manifestByVersion(history), folder);
    expect(releasedFileProblems(folder)).toEqual([]);
    writeFileSync(join(folder, `${history.at(-1)!.tag}.sql`), `${history.at(-1)!.sql}\n-- an edit\n`);
    expect(releasedFileProblems(folder)).toEqual([`migration ${history.at(-1)!.tag} of 90.0.0 was edited after its release (${history.at(-1)!.tag}.sql)`]);
  });
});
