/**
 * The `pgflow-orm` CLI's migration commands, run in-process (the packed bin
 * is exercised in packed-drizzle.test.ts): exit codes and one-line errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { bundledSchemaVersion, readMigrations } from '../../src/migrations/index.js';
import { installFacts, useFreshDatabases } from './support/databases.js';

const freshDatabase = useFreshDatabases();
const scratch = mkdtempSync(join(tmpdir(), 'pgflow-orm-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void out.push(parts.join(' ')));
  vi.spyOn(console, 'warn').mockImplementation((...parts: unknown[]) => void err.push(parts.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void err.push(parts.join(' ')));
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
  const code = await runCli(['node', 'pgflow-orm', ...args]);
  vi.restoreAllMocks();
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('pgflow-orm CLI', () => {
  it('migrate installs pgflow in the database given, then reports it up to date', async () => {
    const database = await freshDatabase();
    const first = await cli('migrate', '--database-url', database.url);
    expect(first.code).toBe(0);
    expect(first.out).toContain(`applied ${readMigrations()[0]!.tag}`);
    expect(first.out).toContain(`pgflow ${bundledSchemaVersion()} installed`);
    expect((await installFacts(database)).version).toBe(bundledSchemaVersion());
    expect((await cli('migrate', '--database-url', database.url)).out).toContain('is up to date');
  });

  it('fails with one line and exit code 1 on a mistake the user can fix', async () => {
    const previous = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      expect(await cli('migrate')).toMatchObject({ code: 1, err: 'pgflow-orm: no database: pass --database-url or set DATABASE_URL' });
    } finally {
      if (previous !== undefined) process.env.DATABASE_URL = previous;
    }
    expect(await cli('drizzle', 'add', '--out', join(scratch, 'x'), '--layout', 'flat')).toMatchObject({ code: 1, err: 'pgflow-orm: --layout must be journal or folders (got flat)' });
    expect((await cli('sql', '0.0.0-nope')).err).toMatch(/^pgflow-orm: no pgflow-orm release 0\.0\.0-nope; releases: /);
    expect((await cli('no-such-command')).code).toBe(1);
  });

  it('drizzle add --dry-run lists the copies without writing them', async () => {
    const out = join(scratch, 'dry');
    const result = await cli('drizzle', 'add', '--out', out, '--layout', 'journal', '--dry-run');
    expect(result.code).toBe(0);
    expect(result.out.split('\n').filter((line) => line.startsWith('would add'))).toHaveLength(readMigrations().length);
    expect(await cli('drizzle', 'add', '--out', out, '--layout', 'journal')).toMatchObject({ code: 0 });
    expect((await cli('drizzle', 'add', '--out', out)).out).toContain('nothing to add');
  });

  it('uninstall removes pgflow and its record after --yes, so it installs again; it leaves Kysely installs to Kysely', async () => {
    const database = await freshDatabase();
    await cli('migrate', '--database-url', database.url);
    await database.query(`select pgflow.create_flow('doomed')`);
    expect(await cli('uninstall', '--database-url', database.url)).toMatchObject({
      code: 1,
      err: 'pgflow-orm: uninstall drops schema pgflow with every flow and run, and the task queue; pass --yes to do it',
    });
    expect((await installFacts(database)).version).toBe(bundledSchemaVersion());
    expect(await cli('uninstall', '--database-url', database.url, '--yes')).toMatchObject({ code: 0, out: 'pgflow removed' });
    expect(await installFacts(database)).toMatchObject({ version: null, schemas: [], tables: 0 });
    expect(await database.query(`select count(*)::int as n from drizzle.__pgflow_migrations`)).toEqual([{ n: 0 }]);
    expect((await cli('uninstall', '--database-url', database.url, '--yes')).out).toContain('nothing to remove');
    expect((await cli('migrate', '--database-url', database.url)).out).toContain('installed');

    const viaKysely = await freshDatabase();
    await cli('migrate', '--database-url', viaKysely.url);
    await viaKysely.query(`create table public.kysely_pgflow_migration (name varchar(255) primary key, timestamp varchar(255) not null)`);
    await viaKysely.query(`insert into public.kysely_pgflow_migration values ('0000_pgflow_tables', now()::text)`);
    const refused = await cli('uninstall', '--database-url', viaKysely.url, '--yes');
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(
      "pgflow-orm: nothing was removed: pgflow was installed with Kysely's Migrator (recorded in kysely_pgflow_migration); remove it with migrateTo(NO_MIGRATIONS)",
    );
    expect((await installFacts(viaKysely)).version).toBe(bundledSchemaVersion());
  });

  it('sql prints the release as one transaction', async () => {
    const result = await cli('sql', bundledSchemaVersion());
    expect(result.code).toBe(0);
    expect(result.out.startsWith(`-- pgflow-orm ${bundledSchemaVersion()}: `)).toBe(true);
    expect(result.out).toMatch(/^begin;$/m);
    expect(result.out.trimEnd().endsWith('commit;')).toBe(true);
  });
});
