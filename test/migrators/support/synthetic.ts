/**
 * A copy of the package's migrations folder with made-up later releases
 * appended, shaped like the function migrations `npm run db:functions`
 * writes: each adds or changes `pgflow.upgrade_probe()` and sets
 * `pgflow.version()`. Tests use it to exercise upgrades, down files and the
 * release tool before the real history has a second release.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { migrationsFolder, readMigrations, versionSetBy, type Migration } from '../../../src/migrations/index.js';
import type { ReleaseManifest } from '../../../src/migrations/releases.js';

export function probeMigrationSql(version: string): string {
  return `-- pgflow-orm ${version}: engine functions (a made-up release for tests).
create or replace function pgflow.upgrade_probe()
returns text
language sql
immutable
set search_path = ''
as $$
  select 'probe of ${version}'::text;
$$;
--> statement-breakpoint
create or replace function pgflow.version()
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select '${version}'::text;
$$;
`;
}

/** Appends one function migration per version to the history in `folder`. */
export function appendSyntheticReleases(folder: string, versions: readonly string[]): void {
  const journalPath = join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { idx: number; version: string; when: number; tag: string; breakpoints: boolean }[] };
  for (const version of versions) {
    const last = journal.entries.at(-1)!;
    const idx = last.idx + 1;
    const prefix = String(idx).padStart(4, '0');
    const tag = `${prefix}_pgflow_${version.replace(/\W/g, '_')}_functions`;
    writeFileSync(join(folder, `${tag}.sql`), probeMigrationSql(version));
    const previousSnapshot = JSON.parse(readFileSync(join(folder, 'meta', `${last.tag.slice(0, 4)}_snapshot.json`), 'utf8')) as { id: string };
    writeFileSync(join(folder, 'meta', `${prefix}_snapshot.json`), JSON.stringify({ ...previousSnapshot, id: randomUUID(), prevId: previousSnapshot.id }, null, 2));
    journal.entries.push({ idx, version: '7', when: last.when + 1000, tag, breakpoints: true });
  }
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
}

/**
 * A temporary copy of the bundled migrations folder (without releases.json
 * and release files unless `keepReleases`), with `versions` appended;
 * removed after the test file.
 */
export function syntheticHistory(versions: readonly string[], options: { keepReleases?: boolean } = {}): { folder: string; migrations: Migration[] } {
  const folder = mkdtempSync(join(tmpdir(), 'pgflow-orm-history-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  cpSync(migrationsFolder, folder, {
    recursive: true,
    filter: (source) => options.keepReleases === true || !/[/\\](releases\.json|sql)$/.test(source),
  });
  appendSyntheticReleases(folder, versions);
  return { folder, migrations: readMigrations(folder) };
}

/** A releases.json for a history in which each migration that sets `pgflow.version()` ends a release. */
export function manifestByVersion(migrations: readonly Migration[]): ReleaseManifest {
  const releases: ReleaseManifest['releases'] = [];
  let pending: Migration[] = [];
  for (const migration of migrations) {
    pending.push(migration);
    const version = versionSetBy(migration);
    if (version) {
      releases.push({ version, migrations: pending.map((member) => ({ tag: member.tag, sha256: member.hash })) });
      pending = [];
    }
  }
  return { releases };
}
