/**
 * `--help` on every command, and the one-line errors for mistakes a user
 * makes before any database is involved.
 */
import { describe, expect, it } from 'vitest';
import { cli, fixtures } from './support.js';

const COMMANDS: [args: string[], mentions: RegExp[]][] = [
  [[], [/Commands:/, /migrate/, /status/, /runs/, /flows/, /schedules/, /scheduler/, /prune/, /citus/, /worker/, /compile/, /dashboard/, /demo/]],
  [['migrate'], [/--database-url/]],
  [['drizzle'], [/add/]],
  [['drizzle', 'add'], [/--layout/, /--dry-run/]],
  [['sql'], [/--uninstall/, /--from/]],
  [['uninstall'], [/--yes/]],
  [['status'], [/--database-url/, /--stale-after/, /--json/]],
  [['runs'], [/list/, /show/]],
  [['runs', 'list'], [/--flow/, /--status/, /"started",\s+"completed",\s+"failed"/, /--limit/, /--json/]],
  [['runs', 'show'], [/<run_id>/, /--json/]],
  [['runs', 'cancel'], [/<run_id>/, /--reason/, /--json/]],
  [['runs', 'retry'], [/<run_id>/, /--json/]],
  [['flows'], [/pause/, /resume/]],
  [['flows', 'pause'], [/<slug>/, /--database-url/]],
  [['flows', 'resume'], [/<slug>/, /--database-url/]],
  [['schedules'], [/list/, /add/, /remove/]],
  [['schedules', 'add'], [/<flow>/, /<name>/, /--cron/, /--input/, /--timezone/, /default:\s+"UTC"/]],
  [['schedules', 'remove'], [/<flow>/, /<name>/]],
  [['scheduler'], [/--catch-up/, /--flow/, /--refresh-interval/, /--log-level/]],
  [['prune'], [/--older-than/, /30d, 12h, 90m/, /--batch-size/, /default: 10000/, /--dry-run/, /--json/]],
  [['citus'], [/distribute/]],
  [['citus', 'distribute'], [/--database-url/, /reference tables/, /run_id/]],
  [['worker'], [/<module>/, /--concurrency/, /--batch-size/, /--poll-interval/, /--grace-period/, /--ensure-flows/, /"check",\s+"recreate",\s+"off"/]],
  [['compile'], [/<module>/, /--out/, /--format/, /drizzle-folder/, /kysely/, /--name/]],
  [['demo'], [/--runs/, /default: 200/, /--workers/, /default: 4/, /--database-url/, /pgflow_orm_demo_orders_v1/]],
];

describe('pgflow-orm --help', () => {
  // About thirty CLI processes start at once; a busy machine needs far longer than the default timeout.
  it('prints the usage of every command and exits 0', { timeout: 180_000 }, async () => {
    const results = await Promise.all(COMMANDS.map(([args]) => cli([...args, '--help'])));
    for (const [index, [args, mentions]] of COMMANDS.entries()) {
      const result = results[index]!;
      expect(result.code, `pgflow-orm ${args.join(' ')} --help`).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: pgflow-orm${args.length > 0 ? ` ${args.join(' ')}` : ''} `));
      for (const mention of mentions) expect(result.stdout, `pgflow-orm ${args.join(' ')} --help`).toMatch(mention);
    }
  });
});

describe('mistakes are reported in one line with exit code 1', () => {
  it('without a database, on invalid option values, and on a module without flows', async () => {
    const [status, runs, worker, demoRuns, format, noOut, notModule, noFlows, runId] = await Promise.all([
      cli(['status']),
      cli(['runs']),
      cli(['worker', fixtures]),
      cli(['demo', '--runs', '0']),
      cli(['compile', fixtures, '--out', 'x', '--format', 'prisma']),
      cli(['compile', fixtures]),
      cli(['compile', 'no/such/module.ts', '--out', 'x']),
      cli(['compile', 'test/cli/support.ts', '--out', 'x', '--format', 'sql']),
      cli(['runs', 'show', 'not-a-uuid', '--database-url', 'postgres://nobody@127.0.0.1:1/none']),
    ]);
    const missingDatabase = 'pgflow-orm: no database: pass --database-url or set DATABASE_URL\n';
    expect(status).toMatchObject({ code: 1, stderr: missingDatabase, stdout: '' });
    expect(runs).toMatchObject({ code: 1, stderr: missingDatabase });
    expect(worker).toMatchObject({ code: 1, stderr: missingDatabase });
    expect(demoRuns.code).toBe(1);
    expect(demoRuns.stderr).toContain("error: option '-r, --runs <n>' argument '0' is invalid. expected a whole number of at least 1");
    expect(format.code).toBe(1);
    expect(format.stderr).toContain("argument 'prisma' is invalid. Allowed choices are drizzle, drizzle-folder, kysely, sql.");
    expect(noOut.code).toBe(1);
    expect(noOut.stderr).toContain("error: required option '-o, --out <dir>' not specified");
    expect(notModule).toMatchObject({ code: 1 });
    expect(notModule.stderr).toMatch(/^pgflow-orm: cannot find the module no\/such\/module\.ts \(no file .*no\/such\/module\.ts\)\n$/);
    expect(noFlows.code).toBe(1);
    expect(noFlows.stderr).toMatch(/^pgflow-orm: test\/cli\/support\.ts exports no flows/);
    expect(runId).toMatchObject({ code: 1, stderr: 'pgflow-orm: "not-a-uuid" is not a run id (a UUID)\n' });
  });
});
