/**
 * Path 4 with Kysely 0.29, whose Migrator moved to `kysely/migration`: the
 * packed package's provider is typed structurally, so a TypeScript app
 * compiles and runs it unchanged (Kysely 0.28 is covered by kysely.test.ts
 * and the floor app).
 */
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledSchemaVersion, readMigrations } from '../../src/migrations/index.js';
import { PGFLOW_TABLES, installFacts, useFreshDatabases } from '../migrators/support/databases.js';
import { runOk } from '../support/processes.js';
import { installedApp, installedVersion, removeWorkFolders, workFolder } from './support/apps.js';

const freshDatabase = useFreshDatabases();
const tags = readMigrations().map((migration) => migration.tag);
afterAll(removeWorkFolders);

const TSCONFIG = JSON.stringify({
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: true,
    types: ['node'],
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
});

const MIGRATE = `import { Kysely, PostgresDialect } from 'kysely';
import { Migrator, NO_MIGRATIONS } from 'kysely/migration';
import pg from 'pg';
import { pgflowMigratorOptions, PgflowMigrationProvider, type PgflowDatabase } from 'pgflow-orm/kysely';

const db = new Kysely<PgflowDatabase>({
  dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }),
});

const recommended = new Migrator(pgflowMigratorOptions(db));
const spelledOut = new Migrator({
  db,
  provider: new PgflowMigrationProvider(),
  migrationTableName: 'kysely_pgflow_migration',
  migrationLockTableName: 'kysely_pgflow_migration_lock',
});

const result = process.argv[2] === 'down' ? await spelledOut.migrateTo(NO_MIGRATIONS) : await recommended.migrateToLatest();
if (result.error) throw result.error;
const runs = process.argv[2] === 'down' ? [] : await db.selectFrom('pgflow.runs').select(['run_id', 'status']).execute();
console.log(JSON.stringify({ results: result.results?.map((r) => [r.migrationName, r.direction, r.status]), runs: runs.length }));
await db.destroy();
`;

describe('the packed package with Kysely 0.29', { timeout: 240_000 }, () => {
  let app: string;
  beforeAll(async () => {
    app = await installedApp('consumer');
    // 0.29 from the lockfile; today's release in the drift check.
    expect(semver.gte(installedVersion(app, 'kysely'), '0.29.0')).toBe(true);
  }, 300_000);

  it('type-checks and installs pgflow with Migrator from kysely/migration, then removes it with migrateTo(NO_MIGRATIONS)', async () => {
    const work = workFolder(app, { 'package.json': '{ "name": "kysely-029-app", "private": true, "type": "module" }\n', 'tsconfig.json': TSCONFIG, 'src/migrate.ts': MIGRATE });
    await runOk(`${work}/node_modules/.bin/tsc`, ['-p', 'tsconfig.json'], { cwd: work });
    const database = await freshDatabase();
    const env = { DATABASE_URL: database.url };

    const up = JSON.parse((await runOk(process.execPath, ['dist/migrate.js'], { cwd: work, env })).stdout) as { results: string[][]; runs: number };
    expect(up).toEqual({ results: tags.map((tag) => [tag, 'Up', 'Success']), runs: 0 });
    expect(await installFacts(database)).toMatchObject({ version: bundledSchemaVersion(), schemas: ['pgflow', 'pgmq'], tables: PGFLOW_TABLES });

    const again = JSON.parse((await runOk(process.execPath, ['dist/migrate.js'], { cwd: work, env })).stdout) as { results: string[][] };
    expect(again.results).toEqual([]);

    const down = JSON.parse((await runOk(process.execPath, ['dist/migrate.js', 'down'], { cwd: work, env })).stdout) as { results: string[][] };
    expect(down.results).toEqual([...tags].reverse().map((tag) => [tag, 'Down', 'Success']));
    expect(await installFacts(database)).toMatchObject({ version: null, schemas: [], tables: 0 });
  });
});
