/**
 * `migrations/releases.json`: which migration files make up each published
 * release, with their sha256. Released files are never edited; a test
 * compares every listed file with its recorded hash. Reading lives in
 * src/migrations/releases.ts (shipped); writing is release tooling.
 */
import { writeFileSync } from 'node:fs';
import { migrationsFolder } from '../../src/migrations/index.js';
import { readReleaseManifest, releasesFile, type ReleaseManifest } from '../../src/migrations/releases.js';

export type { ReleaseEntry, ReleaseManifest, ReleasedMigration } from '../../src/migrations/releases.js';

export const releasesPath = releasesFile();

export function readReleases(folder = migrationsFolder): ReleaseManifest {
  return readReleaseManifest(folder);
}

export function writeReleases(manifest: ReleaseManifest, folder = migrationsFolder): void {
  writeFileSync(releasesFile(folder), `${JSON.stringify(manifest, null, 2)}\n`);
}

export function releasedTags(manifest = readReleases()): Set<string> {
  return new Set(manifest.releases.flatMap((release) => release.migrations.map((migration) => migration.tag)));
}
