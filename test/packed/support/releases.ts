/**
 * What the registry serves today for each package the apps track: the
 * `latest` release, and the newest pre-release of the next major (`next`;
 * drizzle's 1.0 release candidates, say). Only the drift check asks; the
 * gate installs from lockfiles and never does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/paths.js';
import { runOk } from '../../support/processes.js';

export interface Releases {
  latest: Record<string, string>;
  next: Record<string, string>;
}

/** The packages whose releases are tracked: pgflow-orm's peers, and pg, which apps install themselves. */
export function trackedPackages(): string[] {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
  return [...Object.keys(manifest.peerDependencies), 'pg'].sort();
}

const majorOf = (version: string) => Number.parseInt(version, 10);

async function releasesOf(name: string): Promise<{ latest: string; next: string }> {
  const { stdout } = await runOk('npm', ['view', name, 'dist-tags', 'time', '--json'], { cwd: repoRoot, timeoutMs: 60_000 });
  const view = JSON.parse(stdout) as { 'dist-tags': Record<string, string>; time: Record<string, string> };
  const latest = view['dist-tags'].latest!;
  const newerPrereleases = Object.entries(view.time)
    .filter(([version]) => /^\d+\.\d+\.\d+-/.test(version) && majorOf(version) > majorOf(latest))
    .sort(([, a], [, b]) => a.localeCompare(b));
  return { latest, next: newerPrereleases.at(-1)?.[0] ?? latest };
}

/** Asks the registry; `PGFLOW_ORM_TEST_RELEASES` (JSON, as the drift check passes it on) answers instead. */
export async function currentReleases(): Promise<Releases> {
  const given = process.env.PGFLOW_ORM_TEST_RELEASES;
  if (given) return JSON.parse(given) as Releases;
  const releases: Releases = { latest: {}, next: {} };
  for (const name of trackedPackages()) {
    const { latest, next } = await releasesOf(name);
    releases.latest[name] = latest;
    releases.next[name] = next;
  }
  return releases;
}
