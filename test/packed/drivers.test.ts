/**
 * The packed package through every driver, on each line of drizzle-orm and
 * postgres.js it supports: an app script, type-checked with the app's own
 * tsc, installs pgflow with `migratePgflow` on a Drizzle database built on
 * node-postgres and on postgres.js, runs a flow through `pgflowSql(db)` and
 * `pgflowSql(sql)`, and reads it back with typed Drizzle queries, including
 * a relational query (drizzle-orm 0.x: `pgflow-orm/drizzle` and `pgflowSchema`;
 * 1.x: `pgflow-orm/drizzle-1` and `pgflowRelations`).
 *
 * | app      | drizzle-orm | postgres.js |
 * | consumer | 0.45        | 4           |
 * | floor    | 0.36        | 3.4.0       |
 * | drizzle-1| 1.0 rc      | 4           |
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledSchemaVersion } from '../../src/migrations/index.js';
import { useFreshDatabases } from '../migrators/support/databases.js';
import { runOk } from '../support/processes.js';
import { installedApp, installedVersion, removeWorkFolders, workFolder, type AppName } from './support/apps.js';

const freshDatabase = useFreshDatabases();
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

/** drizzle-orm 0.x: relations come with `pgflowSchema`, queries use `where: eq(...)`. */
const ZERO_X = {
  imports: `import { eq } from 'drizzle-orm';
import { migratePgflow, pgflowSchema, runs } from 'pgflow-orm/drizzle';
const config = { schema: pgflowSchema };`,
  relational: `db.query.runs.findFirst({ where: eq(runs.runId, run.runId), with: { stepStates: true } })`,
};

/** drizzle-orm 1.x: `pgflow-orm/drizzle-1`, whose declarations are built against 1.x, and `pgflowRelations`. */
const ONE_X = {
  imports: `import { eq } from 'drizzle-orm';
import { migratePgflow, pgflowRelations, runs } from 'pgflow-orm/drizzle-1';
const config = { relations: pgflowRelations };`,
  relational: `db.query.runs.findFirst({ where: { runId: run.runId }, with: { stepStates: true } })`,
};

/** One driver's run through the package, as a block of the app script; `db` keeps its own Drizzle type. */
const probe = (driver: string, database: string, flavour: typeof ZERO_X) => `{
  const db = ${database};
  const installed = await migratePgflow(db);
  const api = pgflowSql(db);
  const flow = 'packed_${driver.replace('-', '_')}';
  await api.createFlow(flow);
  await api.addStep(flow, 'only');
  const workerId = randomUUID();
  await api.registerWorker(workerId, flow, 'packed-test');
  const run = await api.startFlow(flow, { driver: '${driver}' });
  const claimed = await api.claimTasks(flow, workerId);
  await api.completeTask({ runId: run.runId, stepSlug: 'only', output: { seen: claimed[0]?.input } });
  const [row] = await db.select({ status: runs.status, output: runs.output, startedAt: runs.startedAt }).from(runs).where(eq(runs.runId, run.runId));
  const withStates = await ${flavour.relational};
  results['${driver}'] = {
    version: installed.version,
    status: row?.status,
    output: row?.output,
    startedAtIsDate: row?.startedAt instanceof Date,
    stepStates: withStates?.stepStates.map((state) => [state.stepSlug, state.status]),
  };
}`;

const script = (flavour: typeof ZERO_X) => `import { randomUUID } from 'node:crypto';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzleJs } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgres from 'postgres';
import { pgflowSql } from 'pgflow-orm';
${flavour.imports}

const url = process.env.DATABASE_URL!;
const pool = new pg.Pool({ connectionString: url });
const sql = postgres(url, { max: 2, onnotice: () => {} });
const results: Record<string, unknown> = {};
${probe('node-postgres', 'drizzlePg({ client: pool, ...config })', flavour)}
${probe('postgres-js', 'drizzleJs({ client: sql, ...config })', flavour)}
results.sqlApiOverPostgresJs = await pgflowSql(sql).version();
console.log(JSON.stringify(results));
await pool.end();
await sql.end();
`;

const expected = (driver: string) => ({
  version: bundledSchemaVersion(),
  status: 'completed',
  output: { only: { seen: { run: { driver } } } },
  startedAtIsDate: true,
  stepStates: [['only', 'completed']],
});

const APPS: { app: AppName; drizzle: RegExp; postgres: RegExp; flavour: typeof ZERO_X }[] = [
  { app: 'consumer', drizzle: /^0\./, postgres: /^4\./, flavour: ZERO_X },
  { app: 'floor', drizzle: /^0\./, postgres: /^3\./, flavour: ZERO_X },
  { app: 'drizzle-1', drizzle: /^1\./, postgres: /^4\./, flavour: ONE_X },
];

describe.each(APPS)('the packed package in the $app app', ({ app: name, drizzle, postgres, flavour }) => {
  it('installs, runs and reads a flow through Drizzle on node-postgres and on postgres.js, and through pgflowSql(sql)', async () => {
    const app = await installedApp(name);
    const versions = { drizzle: installedVersion(app, 'drizzle-orm'), postgres: installedVersion(app, 'postgres') };
    expect(versions.drizzle).toMatch(drizzle);
    expect(versions.postgres).toMatch(postgres);
    const work = workFolder(app, { 'package.json': '{ "name": "drivers-app", "private": true, "type": "module" }\n', 'tsconfig.json': TSCONFIG, 'src/main.ts': script(flavour) });
    await runOk(join(work, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: work });
    const database = await freshDatabase();
    const { stdout } = await runOk(process.execPath, ['dist/main.js'], { cwd: work, env: { DATABASE_URL: database.url } });
    expect(JSON.parse(stdout)).toEqual({
      'node-postgres': expected('node-postgres'),
      'postgres-js': expected('postgres-js'),
      sqlApiOverPostgresJs: bundledSchemaVersion(),
    });
  }, 300_000);
});
