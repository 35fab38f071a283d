/**
 * What the published package holds: only what users run. The compiled
 * library (`dist/`: JavaScript and declarations, the dashboard's built front
 * end), the migration history, `schema.ts`, `drizzle.config.ts`, the README
 * and package.json. No release tooling, tests, benchmarks, TypeScript
 * sources of the library or source maps.
 *
 * The list is read from the tarball `npm pack` makes of the working tree (the
 * same file `npm pack --dry-run --json` describes), so the `files` field of
 * package.json, the build's includes and its excludes are checked together.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { migrationsFolder } from '../../src/migrations/index.js';
import { repoRoot } from '../support/paths.js';
import { packedTarball } from './support/tarball.js';

let files: string[] = [];

beforeAll(async () => {
  const listing = execFileSync('tar', ['-tzf', await packedTarball()], { encoding: 'utf8' });
  files = listing
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''))
    .sort();
}, 300_000);

/** Every file of a folder in the repository, relative to the repository. */
function repoFiles(folder: string): string[] {
  return readdirSync(join(repoRoot, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(repoRoot.length + 1))
    .sort();
}

describe('the packed file list', () => {
  it('holds only dist/, migrations/, schema.ts, drizzle.config.ts, README.md, package.json (and a LICENSE)', () => {
    const topLevel = [...new Set(files.map((file) => file.split('/')[0]))].sort();
    expect(topLevel.filter((entry) => entry !== 'LICENSE')).toEqual(['README.md', 'dist', 'drizzle.config.ts', 'migrations', 'package.json', 'schema.ts']);
  });

  it('ships the whole migration history as it is in the repository', () => {
    const shipped = files.filter((file) => file.startsWith('migrations/'));
    expect(shipped).toEqual(repoFiles('migrations'));
    expect(migrationsFolder.startsWith(repoRoot)).toBe(true);
  });

  it('ships no release tooling, tests, benchmarks, examples or scripts, compiled or not', () => {
    const tooling = files.filter((file) => /^(dist\/)?(scripts|test|bench|examples)\//.test(file) || /^dist\/src\/release\//.test(file));
    expect(tooling).toEqual([]);
    expect(files.filter((file) => /\.test\.(js|ts|d\.ts)$/.test(file))).toEqual([]);
  });

  it('ships no source maps and no TypeScript sources besides schema.ts and drizzle.config.ts', () => {
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
    const typescript = files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
    expect(typescript).toEqual(['drizzle.config.ts', 'schema.ts']);
  });

  it('ships in dist/ only compiled JavaScript, declarations and the dashboard front end', () => {
    const dist = files.filter((file) => file.startsWith('dist/'));
    const unexpected = dist.filter((file) => !/\.(js|d\.ts)$/.test(file) && !file.startsWith('dist/dashboard-ui/'));
    expect(unexpected).toEqual([]);
    for (const entry of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/kysely/index.js', 'dist/src/drizzle/index.js', 'dist/src/dashboard/index.js', 'dist/src/cli/main.js', 'dist/schema.js']) {
      expect(dist).toContain(entry);
    }
    expect(dist).toContain('dist/drizzle-1/src/drizzle-1/index.d.ts');
    expect(dist.some((file) => file.startsWith('dist/dashboard-ui/'))).toBe(true);
  });
});
