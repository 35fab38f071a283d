/**
 * `migrations/releases.json`: which migration files make up each published
 * release, with the sha256 of every file that shipped. Released files are
 * never edited; a test compares each listed file with its recorded hash.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationsFolder, schemaVersionOf, type Migration } from './index.js';

export interface ReleasedMigration {
  tag: string;
  /** sha256 of `<tag>.sql`. */
  sha256: string;
  /** sha256 of `down/<tag>.sql`, when the release shipped one. */
  downSha256?: string;
}

export interface ReleaseEntry {
  version: string;
  migrations: ReleasedMigration[];
  /** The release's plain SQL file, relative to the migrations folder. */
  sql?: { file: string; sha256: string };
}

export interface ReleaseManifest {
  releases: ReleaseEntry[];
}

export const releasesFile = (folder = migrationsFolder) => join(folder, 'releases.json');

export function readReleaseManifest(folder = migrationsFolder): ReleaseManifest {
  const path = releasesFile(folder);
  if (!existsSync(path)) return { releases: [] };
  return JSON.parse(readFileSync(path, 'utf8')) as ReleaseManifest;
}

/** A run of consecutive migrations that belong to one version. */
export interface ReleaseGroup {
  version: string;
  /** Listed in releases.json; otherwise the migrations not released yet. */
  released: boolean;
  migrations: Migration[];
}

/**
 * Splits the history into releases, oldest first: the released ones as
 * releases.json lists them, then (if any) the migrations not released yet,
 * under the version their newest `pgflow.version()` sets (else `fallbackVersion`).
 */
export function releaseGroups(migrations: readonly Migration[], manifest: ReleaseManifest, fallbackVersion?: string): ReleaseGroup[] {
  const byTag = new Map(migrations.map((migration) => [migration.tag, migration]));
  const groups: ReleaseGroup[] = [];
  let position = 0;
  for (const release of manifest.releases) {
    const members: Migration[] = [];
    for (const listed of release.migrations) {
      const migration = byTag.get(listed.tag);
      if (!migration) throw new Error(`releases.json lists ${listed.tag} (pgflow-orm ${release.version}), but the migration is missing`);
      if (migrations[position]?.tag !== listed.tag) {
        throw new Error(`releases.json lists ${listed.tag} (pgflow-orm ${release.version}) out of the journal's order`);
      }
      members.push(migration);
      position++;
    }
    groups.push({ version: release.version, released: true, migrations: members });
  }
  const rest = migrations.slice(position);
  if (rest.length > 0) {
    const version = schemaVersionOf(rest) ?? fallbackVersion;
    if (!version) throw new Error(`the unreleased migrations (${rest.map((migration) => migration.tag).join(', ')}) set no pgflow.version()`);
    groups.push({ version, released: false, migrations: rest });
  }
  return groups;
}

/** The release each migration belongs to, by tag. */
export function migrationReleases(groups: readonly ReleaseGroup[]): Map<string, string> {
  return new Map(groups.flatMap((group) => group.migrations.map((migration) => [migration.tag, group.version] as const)));
}
