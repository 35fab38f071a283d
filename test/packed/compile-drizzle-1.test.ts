/**
 * `pgflow-orm compile` for drizzle-kit 1.0's folder-per-migration layout, as
 * a user runs it: the packed package's bin in an app with drizzle-kit 1.0
 * installed, on a plain JavaScript module that imports `pgflow-orm`. One
 * `drizzle-kit migrate` then installs pgflow (copied in by `drizzle add`)
 * and creates the flows.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useFreshDatabases } from '../migrators/support/databases.js';
import { repoRoot } from '../support/paths.js';
import { run, runOk } from '../support/processes.js';
import { installedApp, removeWorkFolders, workFolder } from './support/apps.js';

const freshDatabase = useFreshDatabases();
afterAll(removeWorkFolders);

const FLOWS = `import { Flow } from 'pgflow-orm';

export const invoices = new Flow({ slug: 'cli_invoices', timeout: 20 })
  .step({ slug: 'render' }, ({ run }) => ({ pdf: \`invoice-\${run.id}.pdf\` }))
  .step({ slug: 'email', dependsOn: ['render'], maxAttempts: 5 }, ({ render }) => ({ sent: render.pdf }));
`;

const TYPED_FLOWS = `import { Flow } from 'pgflow-orm';

interface Ping { at: string }
export const ping = new Flow<Ping>({ slug: 'cli_ping' }).step({ slug: 'pong' }, ({ run }): { at: string } => ({ at: run.at }));
`;

/** Node 22.18+ strips TypeScript types by itself; older Node needs a loader such as tsx. */
const nodeStripsTypes = (process.features as { typescript?: unknown }).typescript !== undefined && (process.features as { typescript?: unknown }).typescript !== false;

const CONFIG = `export default { dialect: 'postgresql', out: './drizzle', dbCredentials: { url: process.env.DATABASE_URL } };\n`;

const APP_MIGRATION = 'CREATE TABLE "notes" ("id" serial PRIMARY KEY NOT NULL);\n';

describe('compile for drizzle-kit 1.0 (one folder per migration)', () => {
  it('detects the layout, adds a folder after the newest, and drizzle-kit 1.0 migrate applies it', { timeout: 240_000 }, async () => {
    const app = await installedApp('drizzle-1');
    const work = workFolder(app, {
      'flows.js': FLOWS,
      'drizzle.config.ts': CONFIG,
      'schema.js': 'export {};\n',
    });
    const bin = join(work, 'node_modules', '.bin');
    // The app's own first migration, in the snapshot format of its drizzle-kit.
    await runOk(join(bin, 'drizzle-kit'), ['generate', '--custom', '--name', 'notes', '--dialect', 'postgresql', '--schema', 'schema.js', '--out', 'drizzle'], { cwd: work });
    const [notes] = readdirSync(join(work, 'drizzle'));
    writeFileSync(join(work, 'drizzle', notes!, 'migration.sql'), APP_MIGRATION);
    await runOk(join(bin, 'pgflow-orm'), ['drizzle', 'add'], { cwd: work });
    const compiled = await runOk(join(bin, 'pgflow-orm'), ['compile', 'flows.js', '--out', 'drizzle'], { cwd: work });
    const folders = readdirSync(join(work, 'drizzle')).sort();
    const flowFolder = folders.at(-1)!;
    expect(flowFolder).toMatch(/^\d{14}_flow_cli_invoices$/);
    expect(compiled.stdout).toContain(`wrote ${join('drizzle', flowFolder, 'migration.sql')} (drizzle-folder: creates "cli_invoices")`);
    expect(existsSync(join(work, 'drizzle', flowFolder, 'snapshot.json'))).toBe(true);
    const previous = JSON.parse(readFileSync(join(work, 'drizzle', folders.at(-2)!, 'snapshot.json'), 'utf8')) as { id: string };
    // A snapshot that changes nothing: an empty diff (snapshot version 9), or a copy of the app's empty schema (version 8).
    const snapshot = JSON.parse(readFileSync(join(work, 'drizzle', flowFolder, 'snapshot.json'), 'utf8')) as { prevIds: string[]; deltas?: unknown[]; ddl?: unknown[] };
    expect(snapshot.prevIds).toEqual([previous.id]);
    expect(snapshot.deltas ?? snapshot.ddl).toEqual([]);

    const database = await freshDatabase();
    await runOk(join(bin, 'drizzle-kit'), ['migrate'], { cwd: work, env: { DATABASE_URL: database.url } });
    expect(await database.query(`select step_slug, opt_max_attempts, (select array_agg(dep_slug) from pgflow.deps d where d.flow_slug = s.flow_slug and d.step_slug = s.step_slug) as deps from pgflow.steps s where flow_slug = 'cli_invoices' order by step_index`)).toEqual([
      { step_slug: 'render', opt_max_attempts: null, deps: null },
      { step_slug: 'email', opt_max_attempts: 5, deps: ['render'] },
    ]);
    expect(await database.query(`select opt_timeout from pgflow.flows where flow_slug = 'cli_invoices'`)).toEqual([{ opt_timeout: 20 }]);
    const again = await runOk(join(bin, 'pgflow-orm'), ['compile', 'flows.js', '--out', 'drizzle'], { cwd: work });
    expect(again.stdout).toContain('already creates "cli_invoices"; nothing to write');
  });

  it('loads a TypeScript module with the project’s tsx, and says what to do when the project has none', { timeout: 240_000 }, async () => {
    const app = await installedApp('drizzle-1');
    const work = workFolder(app, { 'package.json': '{ "name": "typed-app", "private": true, "type": "module" }\n', 'flows.ts': TYPED_FLOWS });
    const bin = join(work, 'node_modules', '.bin', 'pgflow-orm');
    // Run from a project that has tsx (the repository): the CLI registers it and imports the module.
    const withTsx = await runOk(bin, ['compile', join(work, 'flows.ts'), '--out', join(work, 'sql'), '--format', 'sql'], { cwd: repoRoot });
    expect(withTsx.stdout).toContain('(sql: creates "cli_ping")');
    expect(readFileSync(join(work, 'sql', readdirSync(join(work, 'sql'))[0]!), 'utf8')).toContain("SELECT pgflow.add_step('cli_ping', 'pong');");
    if (nodeStripsTypes) return;
    // The app has no tsx, and this Node cannot load TypeScript alone.
    const withoutTsx = await run(bin, ['compile', 'flows.ts', '--out', 'sql2', '--format', 'sql'], { cwd: work });
    expect(withoutTsx.code).toBe(1);
    expect(withoutTsx.stderr).toBe(
      'pgflow-orm: cannot import flows.ts: Node cannot load TypeScript by itself. Install tsx in the project (npm install --save-dev tsx), ' +
        'run the command under it (npx tsx node_modules/pgflow-orm/dist/src/cli/main.js ...), or point it at the compiled .js module\n',
    );
  });
});
