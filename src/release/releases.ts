/**
 * `migrations/releases.json`: which migration files make up each published
 * release, with their sha256. Released files are never edited; a test
 * compares every listed file with its recorded hash.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationsFolder } from '../migrations/index.js';

export interface ReleaseManifest {
  releases: { version: string; migrations: { tag: string; sha256: string }[] }[];
}

export const releasesPath = join(migrationsFolder, 'releases.json');

export function readReleases(): ReleaseManifest {
  if (!existsSync(releasesPath)) return { releases: [] };
  return JSON.parse(readFileSync(releasesPath, 'utf8')) as ReleaseManifest;
}

export function writeReleases(manifest: ReleaseManifest): void {
  writeFileSync(releasesPath, `${JSON.stringify(manifest, null, 2)}\n`);
}

export function releasedTags(manifest = readReleases()): Set<string> {
  return new Set(manifest.releases.flatMap((release) => release.migrations.map((migration) => migration.tag)));
}
