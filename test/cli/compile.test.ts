/**
 * `pgflow-orm compile` writes the module's flows as a migration, and each
 * migrator applies it: drizzle-kit 0.31 `migrate` on an app folder in the
 * journal layout, Kysely's Migrator with FileMigrationProvider (up and down),
 * and psql for the plain SQL file. Every database then holds exactly the
 * flows of the module (ensureFlow finds no difference).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureFlow } from '../../src/flow/ensure.js';
import type { AnyFlow } from '../../src/flow/flow.js';
import { readMigrations, type JournalEntry } from '../../src/migrations/index.js';
import { runOk } from '../support/processes.js';
import { useFreshDatabases, type FreshDatabase } from '../migrators/support/databases.js';
import { greet, shapes, slow } from './fixtures/flows.js';
import { cli, cliOk, fixtures, repoRoot } from './support.js';

const freshDatabase = useFreshDatabases();
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A scratch app folder whose node_modules is the repository's (drizzle-kit 0.31, Kysely 0.28, tsx, pg). */
function appFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'pgflow-orm-compile-'));
  folders.push(folder);
  symlinkSync(join(repoRoot, 'node_modules'), join(folder, 'node_modules'), 'dir');
  writeFileSync(join(folder, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
  return folder;
}

/** Every flow given is in the database exactly as defined in code. */
async function expectFlows(database: FreshDatabase, flows: readonly AnyFlow[]): Promise<void> {
  for (const flow of flows) expect(await ensureFlow(database.pool(), flow), flow.slug).toEqual({ status: 'unchanged', differences: [] });
}

const flowSlugs = async (database: FreshDatabase) =>
  (await database.query<{ flow_slug: string }>(`select flow_slug from pgflow.flows order by flow_slug`)).map((row) => row.flow_slug);

const APP_SNAPSHOT_ID = '7c1d2a4e-0000-4000-8000-000000000001';

describe('compile --format drizzle (drizzle-kit 0.x journal)', () => {
  it("adds an entry newer than the app's newest; one drizzle-kit migrate installs pgflow and creates the flows", async () => {
    const app = appFolder();
    const out = join(app, 'drizzle');
    mkdirSync(join(out, 'meta'), { recursive: true });
    // The app's own migration, stamped an hour ahead (e.g. generated on a machine whose clock runs fast).
    const appWhen = Date.now() + 3_600_000;
    writeFileSync(join(out, '0000_notes.sql'), 'CREATE TABLE "notes" ("id" serial PRIMARY KEY NOT NULL, "body" text NOT NULL);\n');
    writeFileSync(join(out, 'meta', '0000_snapshot.json'), JSON.stringify({ id: APP_SNAPSHOT_ID, prevId: '00000000-0000-0000-0000-000000000000', version: '7', dialect: 'postgresql', tables: { 'public.notes': {} }, enums: {}, schemas: {}, sequences: {}, roles: {}, policies: {}, views: {}, _meta: { columns: {}, schemas: {}, tables: {} } }));
    writeFileSync(join(out, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'postgresql', entries: [{ idx: 0, version: '7', when: appWhen, tag: '0000_notes', breakpoints: true }] }));
    writeFileSync(join(app, 'drizzle.config.ts'), `export default { dialect: 'postgresql', out: './drizzle', dbCredentials: { url: process.env.DATABASE_URL } };\n`);

    await cliOk(['drizzle', 'add', '--out', out]);
    const written = await cliOk(['compile', fixtures, '--out', out, '--flow', 'cli_greet', 'cli_diamond']);
    const pgflowCount = readMigrations().length;
    const tag = `${String(pgflowCount + 1).padStart(4, '0')}_flows_cli_greet_cli_diamond`;
    expect(written.stdout).toBe(
      `wrote ${join(out, `${tag}.sql`)} (drizzle: creates "cli_greet", "cli_diamond")\nupdated ${join(out, 'meta', '_journal.json')}\n` +
        `updated ${join(out, 'meta', `${tag.slice(0, 4)}_snapshot.json`)}\nApply it with: npx drizzle-kit migrate (or drizzle-orm's migrate())\n`,
    );
    const journal = (JSON.parse(readFileSync(join(out, 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] }).entries;
    expect(journal.map((entry) => entry.tag).at(-1)).toBe(tag);
    expect(journal.at(-1)!.when).toBe(appWhen + pgflowCount + 1);
    const sql = readFileSync(join(out, `${tag}.sql`), 'utf8');
    expect(sql).toContain("SELECT pgflow.add_step('cli_diamond', 'right', ARRAY['root'], max_attempts => 1, start_delay => 3);\n--> statement-breakpoint\n");
    const snapshot = JSON.parse(readFileSync(join(out, 'meta', `${tag.slice(0, 4)}_snapshot.json`), 'utf8')) as { id: string; tables: unknown };
    expect(snapshot.tables).toEqual({ 'public.notes': {} });

    const database = await freshDatabase();
    const drizzleKit = [join(repoRoot, 'node_modules', 'drizzle-kit', 'bin.cjs'), 'migrate', '--config', 'drizzle.config.ts'];
    await runOk(process.execPath, drizzleKit, { cwd: app, env: { DATABASE_URL: database.url } });
    await expectFlows(database, [greet, shapes.diamond]);
    expect(await flowSlugs(database)).toEqual(['cli_diamond', 'cli_greet']);

    // Compiling the same flows again writes nothing; a later flow gets its own, newer entry that migrate applies.
    expect((await cliOk(['compile', fixtures, '--out', out, '--flow', 'cli_greet', 'cli_diamond'])).stdout).toBe(
      `${join(out, `${tag}.sql`)} already creates "cli_greet", "cli_diamond"; nothing to write\n`,
    );
    await cliOk(['compile', fixtures, '--out', out, '--flow', 'cli_slow']);
    await runOk(process.execPath, drizzleKit, { cwd: app, env: { DATABASE_URL: database.url } });
    await expectFlows(database, [greet, shapes.diamond, slow]);
    expect(readdirSync(out).filter((file) => file.endsWith('.sql'))).toHaveLength(pgflowCount + 3);
  });
});

const KYSELY_MIGRATE = `import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FileMigrationProvider, Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';

const db = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }) });
const migrator = new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder: path.resolve('migrations') }) });
const { error, results } = process.argv[2] === 'down' ? await migrator.migrateDown() : await migrator.migrateToLatest();
console.log(JSON.stringify(results?.map((result) => [result.migrationName, result.direction, result.status])));
await db.destroy();
if (error) {
  console.error(error);
  process.exit(1);
}
`;

describe('compile --format kysely', () => {
  it("writes a TypeScript migration after the app's own; Kysely's Migrator applies it and migrates it down", async () => {
    const app = appFolder();
    const out = join(app, 'migrations');
    mkdirSync(out);
    writeFileSync(
      join(out, '20200101000000_notes.ts'),
      `import type { Kysely } from 'kysely';\nexport async function up(db: Kysely<any>) {\n  await db.schema.createTable('notes').addColumn('id', 'serial', (c) => c.primaryKey()).execute();\n}\n`,
    );
    writeFileSync(join(app, 'migrate.ts'), KYSELY_MIGRATE);
    const written = await cliOk(['compile', fixtures, '--out', out]);
    const file = readdirSync(out).find((name) => name.endsWith('_flows_cli_greet_cli_diamond_cli_fanout_cli_slow.ts'))!;
    expect(file).toMatch(/^\d{14}_flows_cli_greet_cli_diamond_cli_fanout_cli_slow\.ts$/);
    expect(file > '20200101000000_notes.ts').toBe(true);
    expect(written.stdout).toContain(`wrote ${join(out, file)} (kysely: creates "cli_greet", "cli_diamond", "cli_fanout", "cli_slow")`);
    const source = readFileSync(join(out, file), 'utf8');
    expect(source).toContain("import { sql, type Kysely } from 'kysely';");
    // The template literal keeps the pattern's backslash, backtick and `${` as they are.
    expect(source).toContain(
      "SELECT pgflow.add_step('cli_fanout', 'list', forbidden_input_pattern => '{\"run\":{\"note\":\"it''s \\\\\\\\ \\`\\${x}\\`\"}}'::jsonb, when_unmet => 'skip-cascade');",
    );
    expect(source).toContain('export async function up(db: Kysely<any>): Promise<void> {');

    const database = await freshDatabase();
    await cliOk(['migrate', '--database-url', database.url]);
    const migrate = (direction: 'up' | 'down') => runOk(process.execPath, ['--import', 'tsx', 'migrate.ts', direction], { cwd: app, env: { DATABASE_URL: database.url } });
    const name = file.replace(/\.ts$/, '');
    expect(JSON.parse((await migrate('up')).stdout)).toEqual([
      ['20200101000000_notes', 'Up', 'Success'],
      [name, 'Up', 'Success'],
    ]);
    await expectFlows(database, [greet, slow, shapes.diamond, shapes.fanout]);

    // Down deletes the flows with their runs and queues.
    await database.query(`select pgflow.start_flow('cli_greet', '{"name": "x"}')`);
    expect(JSON.parse((await migrate('down')).stdout)).toEqual([[name, 'Down', 'Success']]);
    expect(await flowSlugs(database)).toEqual([]);
    expect(await database.query(`select count(*)::int as n from pgflow.runs`)).toEqual([{ n: 0 }]);
    expect(await database.query(`select queue_name from pgmq.meta where queue_name like 'cli_%'`)).toEqual([]);
    expect(JSON.parse((await migrate('up')).stdout)).toEqual([[name, 'Up', 'Success']]);
    await expectFlows(database, [greet, slow, shapes.diamond, shapes.fanout]);
  });
});

describe('compile --format sql', () => {
  it('writes a plain SQL file that psql applies (twice: it is idempotent)', async () => {
    const out = join(appFolder(), 'sql');
    const written = await cliOk(['compile', fixtures, '--out', out, '--format', 'sql', '--flow', 'cli_diamond']);
    const [file] = readdirSync(out);
    expect(file).toMatch(/^\d{14}_flow_cli_diamond\.sql$/);
    expect(written.stdout).toContain(`wrote ${join(out, file!)} (sql: creates "cli_diamond")`);
    expect(readFileSync(join(out, file!), 'utf8')).toContain(
      "\n-- flow \"cli_diamond\": 4 steps\nSELECT pgflow.create_flow('cli_diamond', max_attempts => 4, base_delay => 2, timeout => 30);\nSELECT pgflow.add_step('cli_diamond', 'root');\n",
    );
    const database = await freshDatabase();
    await cliOk(['migrate', '--database-url', database.url]);
    for (let time = 0; time < 2; time++) {
      await runOk('psql', ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-d', database.url, '-f', join(out, file!)], { cwd: out });
    }
    await expectFlows(database, [shapes.diamond]);
    expect(await flowSlugs(database)).toEqual(['cli_diamond']);
  });

  it('writes map steps and conditions that psql applies as the flow defines them', async () => {
    const out = join(appFolder(), 'sql');
    await cliOk(['compile', fixtures, '--out', out, '--format', 'sql', '--flow', 'cli_fanout']);
    const [file] = readdirSync(out);
    const sql = readFileSync(join(out, file!), 'utf8');
    expect(sql).toContain(`SELECT pgflow.add_step('cli_fanout', 'fetch', ARRAY['list'], max_attempts => 2, step_type => 'map', when_exhausted => 'skip');\n`);
    expect(sql).toContain(`SELECT pgflow.add_step('cli_fanout', 'total', ARRAY['fetch'], required_input_pattern => '{"fetch":[1]}'::jsonb);\n`);
    const database = await freshDatabase();
    await cliOk(['migrate', '--database-url', database.url]);
    await runOk('psql', ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-d', database.url, '-f', join(out, file!)], { cwd: out });
    await expectFlows(database, [shapes.fanout]);
    expect(await database.query(`select forbidden_input_pattern from pgflow.steps where flow_slug = 'cli_fanout' and step_slug = 'list'`)).toEqual([
      { forbidden_input_pattern: { run: { note: "it's \\ `${x}`" } } },
    ]);
  });

  it('follows the folder’s naming (Flyway, numbered), refuses other SQL under an existing name, and --dry-run writes nothing', async () => {
    const flyway = join(appFolder(), 'db');
    mkdirSync(flyway);
    writeFileSync(join(flyway, 'V1__init.sql'), 'create table t (id int);\n');
    writeFileSync(join(flyway, 'V7__more.sql'), 'create table u (id int);\n');
    await cliOk(['compile', fixtures, '--out', flyway, '--flow', 'cli_greet']);
    expect(readdirSync(flyway).sort()).toEqual(['V1__init.sql', 'V7__more.sql', 'V8__flow_cli_greet.sql']);

    const numbered = join(appFolder(), 'db');
    mkdirSync(numbered);
    writeFileSync(join(numbered, '001_init.sql'), 'create table t (id int);\n');
    const dry = await cliOk(['compile', fixtures, '--out', numbered, '--flow', 'cli_greet', '--dry-run']);
    expect(dry.stdout).toBe(`would write ${join(numbered, '002_flow_cli_greet.sql')} (sql: creates "cli_greet")\n`);
    expect(readdirSync(numbered)).toEqual(['001_init.sql']);
    await cliOk(['compile', fixtures, '--out', numbered, '--flow', 'cli_greet']);
    expect(readdirSync(numbered).sort()).toEqual(['001_init.sql', '002_flow_cli_greet.sql']);

    const clash = await cli(['compile', fixtures, '--out', numbered, '--flow', 'cli_slow', '--name', 'flow_cli_greet']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toBe(
      `pgflow-orm: ${join(numbered, '002_flow_cli_greet.sql')} already exists with other SQL. A flow does not change in place: ` +
        'give the changed flow a new slug, or pass --name to write the new definitions as another migration\n',
    );
    const badName = await cli(['compile', fixtures, '--out', numbered, '--name', 'no spaces']);
    expect(badName).toMatchObject({ code: 1 });
    expect(badName.stderr).toMatch(/^pgflow-orm: --name must be letters, digits/);
    const undetectable = await cli(['compile', fixtures, '--out', join(appFolder(), 'empty')], { cwd: tmpdir() });
    expect(undetectable.stderr).toMatch(/cannot tell which migrator .*empty is for \(it has no migrations yet\): pass --format drizzle\|drizzle-folder\|kysely\|sql\n$/);
  });
});
