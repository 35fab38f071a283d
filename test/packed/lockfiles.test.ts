/**
 * The test apps' lockfiles are what the gate installs, so they must say
 * what package.json says, and together they must exercise every peer range
 * the package declares: its oldest release (the `floor` app) and every
 * alternative of the range (`^3.4.3 || ^4.0.0` needs a 3.x and a 4.x app).
 * When one of these fails, `npm run test:apps:lock` brings the lockfiles up
 * to date, or the peer range says more than the apps test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/paths.js';
import { APP_NAMES, appLockfile, appManifest, exampleAppManifest, lockedVersion, PACKED_DEPENDENCY } from './support/apps.js';

interface PackageManifest {
  version: string;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
}

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as PackageManifest;

describe.each(APP_NAMES)('test/apps/%s', (name) => {
  const manifest = appManifest(name);
  const lockfile = appLockfile(name);

  it('locks exactly the dependencies its package.json asks for', () => {
    const root = lockfile.packages[''] as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    expect(root.dependencies ?? {}).toEqual(manifest.dependencies ?? {});
    expect(root.devDependencies ?? {}).toEqual(manifest.devDependencies ?? {});
    for (const [dependency, range] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
      if (range === PACKED_DEPENDENCY) continue;
      expect(semver.satisfies(lockedVersion(name, dependency) ?? 'missing', range, { includePrerelease: true }), `${dependency}@${range}`).toBe(true);
    }
  });

  it("installs the packed tarball, with the package's current dependencies and peer ranges", () => {
    const entry = lockfile.packages['node_modules/pgflow-orm']!;
    expect(manifest.dependencies?.['pgflow-orm']).toBe(PACKED_DEPENDENCY);
    expect(entry.resolved).toBe(PACKED_DEPENDENCY);
    expect(entry.integrity).toBeUndefined();
    expect(entry.version).toBe(pkg.version);
    expect(entry.dependencies).toEqual(pkg.dependencies);
    expect(entry.peerDependencies).toEqual(pkg.peerDependencies);
    expect(entry.peerDependenciesMeta).toEqual(pkg.peerDependenciesMeta);
  });
});

describe('the apps made from examples/', () => {
  it.each(readdirSync(join(repoRoot, 'examples')))('test/apps/example-%s has the example’s package.json', (example) => {
    expect(appManifest(`example-${example}` as (typeof APP_NAMES)[number])).toEqual(exampleAppManifest(example));
  });
});

describe('peer ranges say what the apps test', () => {
  const tested = (peer: string) => APP_NAMES.map((name) => lockedVersion(name, peer)).filter((version): version is string => version !== undefined);

  it.each(Object.entries(pkg.peerDependencies))('%s %s: its oldest release is the floor app’s, and each alternative has an app', (peer, range) => {
    expect(lockedVersion('floor', peer)).toBe(semver.minVersion(range)?.version);
    for (const alternative of range.split('||').map((part) => part.trim())) {
      expect(
        tested(peer).some((version) => semver.satisfies(version, alternative, { includePrerelease: true })),
        `no test app installs ${peer} ${alternative}`,
      ).toBe(true);
    }
  });
});
