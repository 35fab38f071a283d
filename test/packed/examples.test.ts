/**
 * The example apps, tried as a new user would: each is installed from the
 * `npm pack` output into a temporary copy, type-checked and built with its
 * own tsc, and run against a fresh database, where its migrator installs
 * pgflow, its flow runs to completion and its typed queries read the result.
 * Each runs with the dependencies its package.json asks for, and again with
 * the oldest release of every peer range (the `floor` app).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledSchemaVersion } from '../../src/migrations/index.js';
import { installFacts, packageHistory, useFreshDatabases } from '../migrators/support/databases.js';
import { repoRoot } from '../support/paths.js';
import { runOk } from '../support/processes.js';
import { installedApp, removeWorkFolders, workFolder } from './support/apps.js';

const freshDatabase = useFreshDatabases();
afterAll(removeWorkFolders);

const expectedResult = {
  status: 'completed',
  output: { greet: 'Hello, Ada!' },
  steps: [
    { stepSlug: 'fetch_user', status: 'completed' },
    { stepSlug: 'greet', status: 'completed' },
  ],
};

type Example = 'drizzle-app' | 'kysely-app';
type Deps = 'its own dependencies' | 'the oldest peers';

async function tryExample(name: Example, deps: Deps) {
  const folder = join(repoRoot, 'examples', name);
  const app = await installedApp(deps === 'its own dependencies' ? `example-${name}` : 'floor');
  const work = workFolder(app, folder);
  if (deps === 'the oldest peers' && name === 'kysely-app') {
    // Kysely 0.28 keeps Migrator in 'kysely'; 0.29, which the example is written for, moved it to 'kysely/migration'.
    const migrate = join(work, 'src', 'migrate.ts');
    writeFileSync(migrate, readFileSync(migrate, 'utf8').replace("from 'kysely/migration'", "from 'kysely'"));
  }
  await runOk(join(work, 'node_modules', '.bin', 'tsc'), ['--noEmit'], { cwd: work });
  await runOk(join(work, 'node_modules', '.bin', 'tsc'), [], { cwd: work });
  const database = await freshDatabase();
  const { stdout } = await runOk(process.execPath, ['dist/main.js'], { cwd: work, env: { DATABASE_URL: database.url } });
  const lines = stdout.trim().split('\n');
  return { database, lines, result: JSON.parse(lines.at(-1)!) as Record<string, unknown> };
}

describe.each<Deps>(['its own dependencies', 'the oldest peers'])('example apps with %s', (deps) => {
  it('examples/drizzle-app: migratePgflow, a flow run by the worker protocol, Drizzle queries', async () => {
    const { database, lines, result } = await tryExample('drizzle-app', deps);
    expect(lines[0]).toMatch(new RegExp(`^installed pgflow ${bundledSchemaVersion().replace(/\./g, '\\.')} \\(`));
    expect(lines).toContain('completed fetch_user');
    expect(lines).toContain('completed greet');
    expect(result).toEqual({ ...expectedResult, stepStates: 2 });
    expect((await installFacts(database)).version).toBe(bundledSchemaVersion());
    expect((await packageHistory(database)).length).toBeGreaterThan(0);
  }, 300_000);

  it("examples/kysely-app: Kysely's Migrator, a flow run by the worker protocol, Kysely queries", async () => {
    const { database, lines, result } = await tryExample('kysely-app', deps);
    expect(lines[0]).toMatch(/^pgflow migration 0000_pgflow_tables: Success$/);
    expect(lines).toContain('completed greet');
    expect(result).toEqual(expectedResult);
    expect((await installFacts(database)).version).toBe(bundledSchemaVersion());
    expect(await database.query(`select count(*)::int as n from public.kysely_pgflow_migration`)).toEqual([{ n: lines.filter((line) => line.startsWith('pgflow migration')).length }]);
  }, 300_000);
});
