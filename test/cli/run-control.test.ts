/**
 * The run-control commands as child processes against a real database:
 * `runs cancel` / `runs retry`, `flows pause` / `flows resume`, `schedules
 * list|add|remove`, `scheduler`, `prune` (with --dry-run counting exactly
 * what the prune then deletes) and `status` with paused flows and schedules.
 * Exit codes: 0 done, 1 error (unknown run or flow, bad argument), 2 nothing
 * to do.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import { useTestDatabase } from '../support/database.js';
import { useLoginRoles } from '../support/roles.js';
import { waitUntil } from '../worker/support.js';
import { cli, cliOk, startCli } from './support.js';

const db = useTestDatabase();
const workerId = randomUUID();

beforeAll(async () => {
  await db.query(`select pgflow.create_flow('ctl_orders', max_attempts => 1)`);
  await db.query(`select pgflow.add_step('ctl_orders', 'charge')`);
  await db.query(`select pgflow.add_step('ctl_orders', 'ship', array['charge'])`);
  await db.query(`select pgflow.create_flow('ctl_reports')`);
  await db.query(`select pgflow.add_step('ctl_reports', 'build')`);
  await db.query(`select pgflow.create_flow('ctl_paused')`);
  await db.query(`select pgflow.add_step('ctl_paused', 'only')`);
});

const statusOf = async (runId: string) => (await db.query<{ status: string }>(`select status from pgflow.runs where run_id = $1`, [runId]))[0]?.status;

describe('pgflow-orm runs cancel / retry', () => {
  it('cancels a started run with a reason; a second cancel has nothing to do (exit 2)', async () => {
    const run = await pgflowSql(db.pool).startFlow('ctl_orders', { order: 1 });
    const { stdout } = await cliOk(['runs', 'cancel', run.runId, '--reason', 'customer called', '--database-url', db.url]);
    expect(stdout).toBe(`cancelled run ${run.runId} of flow ctl_orders (customer called)\n`);
    expect(await statusOf(run.runId)).toBe('cancelled');

    const again = await cli(['runs', 'cancel', run.runId, '--database-url', db.url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`pgflow-orm: run ${run.runId} is already cancelled; nothing to cancel\n`);

    const shown = await cliOk(['runs', 'show', run.runId, '--database-url', db.url]);
    expect(shown.stdout).toMatch(/status {4}cancelled\n/);
    expect(shown.stdout).toMatch(/cancelled \d{4}-\d\d-\d\d [\d:.]+ UTC, after .*: customer called\n/);
  });

  it('retries a cancelled run (--json); retrying a started run has nothing to do (exit 2)', async () => {
    const run = await pgflowSql(db.pool).startFlow('ctl_orders', { order: 2 });
    await pgflowSql(db.pool).cancelRun(run.runId);
    const retried = JSON.parse((await cliOk(['runs', 'retry', run.runId, '--json'], { env: { DATABASE_URL: db.url } })).stdout);
    expect(retried).toMatchObject({ runId: run.runId, status: 'started', remainingSteps: 2, cancelReason: null });

    const again = await cli(['runs', 'retry', run.runId, '--database-url', db.url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`pgflow-orm: run ${run.runId} is started; only a failed or cancelled run can be retried\n`);

    const plain = await pgflowSql(db.pool).startFlow('ctl_orders', { order: 3 });
    await pgflowSql(db.pool).cancelRun(plain.runId);
    expect((await cliOk(['runs', 'retry', plain.runId, '--database-url', db.url])).stdout).toBe(`retrying run ${plain.runId} of flow ctl_orders: 2 steps to run again\n`);
  });

  it('an unknown run, a malformed id and a missing database are one-line errors (exit 1)', async () => {
    const unknown = randomUUID();
    const missing = await cli(['runs', 'cancel', unknown, '--database-url', db.url]);
    expect(missing).toMatchObject({ code: 1, stderr: `pgflow-orm: run ${unknown} does not exist\n`, stdout: '' });
    expect((await cli(['runs', 'retry', unknown, '--database-url', db.url])).stderr).toBe(`pgflow-orm: run ${unknown} does not exist\n`);
    expect(await cli(['runs', 'cancel', 'not-a-uuid', '--database-url', db.url])).toMatchObject({ code: 1, stderr: 'pgflow-orm: "not-a-uuid" is not a run id (a UUID)\n' });
    expect(await cli(['runs', 'retry', unknown])).toMatchObject({ code: 1, stderr: 'pgflow-orm: no database: pass --database-url or set DATABASE_URL\n' });
  });
});

describe('pgflow-orm flows pause / resume', () => {
  it('pauses and resumes; doing either twice has nothing to do (exit 2); an unknown flow is exit 1', async () => {
    const paused = await cliOk(['flows', 'pause', 'ctl_paused', '--database-url', db.url]);
    expect(paused.stdout).toBe('paused flow ctl_paused: workers start none of its tasks until `pgflow-orm flows resume ctl_paused`\n');
    const [row] = await db.query<{ paused_at: Date | null }>(`select paused_at from pgflow.flows where flow_slug = 'ctl_paused'`);
    expect(row?.paused_at).toBeInstanceOf(Date);

    const twice = await cli(['flows', 'pause', 'ctl_paused', '--database-url', db.url]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/^pgflow-orm: flow ctl_paused is already paused \(since \d{4}-\d\d-\d\d [\d:.]+ UTC\); nothing to do\n$/);

    const status = await cliOk(['status', '--database-url', db.url]);
    expect(status.stdout).toMatch(/\npaused {4}ctl_paused \(since \d{4}-\d\d-\d\d [\d:.]+ UTC\): workers start none of their tasks\n/);
    const report = JSON.parse((await cliOk(['status', '--json', '--database-url', db.url])).stdout);
    expect(report.flows.find((flow: { slug: string }) => flow.slug === 'ctl_paused').pausedAt).toEqual(expect.any(String));

    const resumed = JSON.parse((await cliOk(['flows', 'resume', 'ctl_paused', '--json', '--database-url', db.url])).stdout);
    expect(resumed).toMatchObject({ flowSlug: 'ctl_paused', pausedAt: null });
    expect(await cli(['flows', 'resume', 'ctl_paused', '--database-url', db.url])).toMatchObject({ code: 2, stderr: 'pgflow-orm: flow ctl_paused is not paused; nothing to do\n' });
    expect(await cli(['flows', 'pause', 'no_such_flow', '--database-url', db.url])).toMatchObject({ code: 1, stderr: 'pgflow-orm: flow "no_such_flow" does not exist\n' });
  });
});

describe('pgflow-orm schedules', () => {
  it('adds, replaces, lists and removes a schedule', async () => {
    const added = await cliOk(['schedules', 'add', 'ctl_reports', 'nightly', '--cron', '0 2 * * *', '--input', '{"kind":"daily"}', '--timezone', 'Europe/Paris', '--database-url', db.url]);
    expect(added.stdout).toMatch(/^added schedule nightly of flow ctl_reports: 0 2 \* \* \* \(Europe\/Paris\), input \{"kind":"daily"\}\nnext tick \d{4}-\d\d-\d\d (00|01):00:00\.000 UTC\n$/);
    const replaced = await cliOk(['schedules', 'add', 'ctl_reports', 'nightly', '--cron', '30 3 * * MON-FRI', '--database-url', db.url]);
    expect(replaced.stdout).toMatch(/^replaced schedule nightly of flow ctl_reports: 30 3 \* \* MON-FRI \(UTC\), input \{\}\n/);
    await db.query(`insert into pgflow.schedules (flow_slug, schedule_name, cron, input) values ('ctl_reports', 'hand_made', '0 0 L * *', '{}')`);

    const list = await cliOk(['schedules', '--database-url', db.url]);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^flow\s+schedule\s+cron\s+time zone\s+last fired \(UTC\)\s+next \(UTC\)\s+input$/);
    expect(lines[1]).toMatch(/^ctl_reports\s+hand_made\s+0 0 L \* \*\s+UTC\s+-\s+cannot be read: the day of month field 'L' of '0 0 L \* \*' is not a value, a range a-b or \*, with an optional \/step\s+\{\}$/);
    expect(lines[2]).toMatch(/^ctl_reports\s+nightly\s+30 3 \* \* MON-FRI\s+UTC\s+-\s+\d{4}-\d\d-\d\d 03:30:00\.000\s+\{\}$/);
    const json = JSON.parse((await cliOk(['schedules', 'list', '--flow', 'ctl_reports', '--json', '--database-url', db.url])).stdout);
    expect(json.map((schedule: { scheduleName: string }) => schedule.scheduleName)).toEqual(['hand_made', 'nightly']);
    expect(json[1]).toMatchObject({ flowSlug: 'ctl_reports', cron: '30 3 * * MON-FRI', timezone: 'UTC', input: {}, lastTick: null, problem: null, nextTick: expect.any(String) });

    const status = await cliOk(['status', '--database-url', db.url]);
    expect(status.stdout).toContain('schedules 2 (1 cannot be read by the scheduler)\n');
    expect(status.stdout).toMatch(/\n {2}ctl_reports\s+nightly\s+30 3 \* \* MON-FRI/);

    expect((await cliOk(['schedules', 'remove', 'ctl_reports', 'hand_made', '--database-url', db.url])).stdout).toBe('removed schedule hand_made of flow ctl_reports\n');
    expect(await cli(['schedules', 'remove', 'ctl_reports', 'hand_made', '--database-url', db.url])).toMatchObject({
      code: 2,
      stderr: 'pgflow-orm: flow ctl_reports has no schedule named hand_made; nothing to remove\n',
    });
  });

  it('refuses a bad expression, time zone, input or flow with the engine’s one-line message (exit 1)', async () => {
    const args = (...extra: string[]) => ['schedules', 'add', 'ctl_reports', 'broken', '--database-url', db.url, ...extra];
    expect(await cli(args('--cron', '61 * * * *'))).toMatchObject({
      code: 1,
      stderr: `pgflow-orm: invalid schedule "broken": the minute field '61' of '61 * * * *' is out of range (0-59)\n`,
    });
    expect((await cli(args('--cron', '* * * * *', '--timezone', 'Mars/Base'))).stderr).toBe(`pgflow-orm: invalid schedule "broken": unknown time zone 'Mars/Base'\n`);
    expect((await cli(args('--cron', '* * * * *', '--input', '{oops'))).stderr).toMatch(/^pgflow-orm: --input is not JSON: .+\n$/);
    expect((await cli(args('--cron', '* * * * *', '--input', '[1]'))).stderr).toBe(
      'pgflow-orm: invalid schedule "broken": the input of a run of flow "ctl_reports" must be a JSON object, got array\n',
    );
    expect((await cli(['schedules', 'add', 'nope', 'broken', '--cron', '* * * * *', '--database-url', db.url])).stderr).toBe('pgflow-orm: flow "nope" does not exist\n');
    const missing = await cli(['schedules', 'add', 'ctl_reports', 'broken', '--database-url', db.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("required option '--cron <expression>' not specified");
  });
});

describe('pgflow-orm scheduler', () => {
  it('fires a due tick, and stops with exit 0 on SIGTERM', async () => {
    await pgflowSql(db.pool).scheduleFlow('ctl_orders', 'every_minute', '* * * * *', { from: 'cli' });
    // As if made ten minutes ago: the latest missed tick is due at once.
    await db.query(`update pgflow.schedules set updated_at = updated_at - interval '10 minutes' where schedule_name = 'every_minute'`);
    const scheduler = startCli(['scheduler', '--flow', 'ctl_orders', '--catch-up', '1', '--refresh-interval', '100', '--database-url', db.url]);
    await scheduler.waitFor(/schedule "every_minute" of flow "ctl_orders" fired for \S+: run [0-9a-f-]{36}/);
    const ticks = await db.query<{ run_id: string }>(`select run_id from pgflow.schedule_ticks where schedule_name = 'every_minute'`);
    expect(ticks.length).toBeGreaterThanOrEqual(1);
    const [run] = await db.query<{ input: unknown }>(`select input from pgflow.runs where run_id = $1`, [ticks[0]!.run_id]);
    expect(run?.input).toEqual({ from: 'cli' });
    scheduler.child.kill('SIGTERM');
    const result = await scheduler.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('SIGTERM received: stopping');
    await pgflowSql(db.pool).unscheduleFlow('ctl_orders', 'every_minute');
  });

  it('refuses a database without pgflow, and a bad --catch-up (exit 1)', async () => {
    const bare = db.url.replace(/\/[^/]+$/, '/postgres');
    const result = await cli(['scheduler', '--database-url', bare]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^pgflow-orm: pgflow is not installed/);
    const bad = await cli(['scheduler', '--catch-up', '0', '--database-url', db.url]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('expected a whole number of at least 1');
  });
});

describe('pgflow-orm prune', () => {
  it('--dry-run counts exactly what the prune then deletes; runs in progress and recent ones stay', async () => {
    const sql = pgflowSql(db.pool);
    await db.query(`select pgflow.create_flow('ctl_prune', max_attempts => 1)`);
    await db.query(`select pgflow.add_step('ctl_prune', 'a')`);
    await db.query(`select pgflow.add_step('ctl_prune', 'b', array['a'])`);
    const finish = async (fail: boolean) => {
      const run = await sql.startFlow('ctl_prune', {});
      await sql.claimTasks('ctl_prune', workerId, 1);
      if (fail) await sql.failTask({ runId: run.runId, stepSlug: 'a', errorMessage: 'no' });
      else {
        await sql.completeTask({ runId: run.runId, stepSlug: 'a', output: 1 });
        await sql.claimTasks('ctl_prune', workerId, 1);
        await sql.completeTask({ runId: run.runId, stepSlug: 'b', output: 2 });
      }
      return run.runId;
    };
    const age = (runId: string, days: number) =>
      db.query(
        `update pgflow.runs set started_at = started_at - make_interval(days => $2), completed_at = completed_at - make_interval(days => $2),
           failed_at = failed_at - make_interval(days => $2), cancelled_at = cancelled_at - make_interval(days => $2) where run_id = $1`,
        [runId, days],
      );
    const old: string[] = [];
    for (let i = 0; i < 5; i++) old.push(await finish(false));
    old.push(await finish(true));
    const cancelled = (await sql.startFlow('ctl_prune', {})).runId;
    await sql.cancelRun(cancelled);
    old.push(cancelled);
    for (const runId of old) await age(runId, 40);
    const recent = await finish(false);
    await age(recent, 10);
    const inProgress = (await sql.startFlow('ctl_prune', {})).runId;
    await age(inProgress, 60);

    const dry = await cliOk(['prune', '--older-than', '30d', '--dry-run', '--database-url', db.url]);
    expect(dry.stdout).toBe('would delete 7 runs, 14 step states, 12 tasks, 12 archived messages (finished more than 30 days ago)\n');
    const dryJson = JSON.parse((await cliOk(['prune', '--older-than', '720h', '--dry-run', '--json', '--database-url', db.url])).stdout);
    expect(dryJson).toEqual({ dryRun: true, olderThan: '720 hours', prunedRuns: 7, prunedStepStates: 14, prunedStepTasks: 12, prunedMessages: 12 });
    expect(await db.query(`select count(*)::int as n from pgflow.runs where flow_slug = 'ctl_prune'`)).toEqual([{ n: 9 }]);

    const pruned = await cliOk(['prune', '--older-than', '30d', '--batch-size', '3', '--database-url', db.url]);
    expect(pruned.stdout).toMatch(/^deleted 7 runs, 14 step states, 12 tasks, 12 archived messages in 3 batches \(.+\)\n$/);
    // Not a terminal: progress as plain lines on stderr, one per batch.
    expect(pruned.stderr).toBe('pruned 3 of about 7 runs (batch of 3)\npruned 6 of about 7 runs (batch of 3)\npruned 7 of about 7 runs (batch of 1)\n');
    const left = await db.query<{ run_id: string }>(`select run_id from pgflow.runs where flow_slug = 'ctl_prune' order by run_id`);
    expect(left.map((row) => row.run_id).sort()).toEqual([recent, inProgress].sort());

    expect((await cliOk(['prune', '--older-than', '30d', '--database-url', db.url])).stdout).toBe('nothing to prune: no run finished more than 30 days ago\n');
    const json = JSON.parse((await cliOk(['prune', '--older-than', '1d', '--json', '--database-url', db.url])).stdout);
    expect(json).toMatchObject({ dryRun: false, olderThan: '1 days', prunedRuns: 1, prunedStepStates: 2, prunedStepTasks: 2, prunedMessages: 2, batches: 1 });
  });

  it('refuses a duration it cannot read, with what it expects (exit 1)', async () => {
    for (const bad of ['30', '30x', '-5d', '1.5h', 'thirty days']) {
      const result = await cli(['prune', '--older-than', bad, '--database-url', db.url]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`error: option '--older-than <duration>' argument '${bad}' is invalid. expected a whole number and a unit: s, m, h, d or w (e.g. 30d, 12h, 90m), got ${JSON.stringify(bad)}`);
    }
    expect((await cli(['prune', '--database-url', db.url])).stderr).toContain("required option '--older-than <duration>' not specified");
  });
});

describe('the commands as least-privilege roles', () => {
  const role = useLoginRoles(() => [db.name]);

  it('an admin cancels, retries and prunes; a reader reads the status but cannot cancel, and is told which level it lacks', async () => {
    const admin = await role('cli_admin');
    const reader = await role('cli_reader');
    await db.query(`select pgflow.grant_admin($1)`, [admin.name]);
    await db.query(`select pgflow.grant_reader($1)`, [reader.name]);
    const run = await pgflowSql(db.pool).startFlow('ctl_reports', { as: 'roles' });

    const refused = await cli(['runs', 'cancel', run.runId, '--database-url', reader.urlFor(db.url)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/grant_admin/);
    expect(await statusOf(run.runId)).toBe('started');

    const status = await cliOk(['status', '--database-url', reader.urlFor(db.url)]);
    expect(status.stdout).toMatch(/ctl_reports/);

    await cliOk(['runs', 'cancel', run.runId, '--reason', 'as admin', '--database-url', admin.urlFor(db.url)]);
    expect(await statusOf(run.runId)).toBe('cancelled');
    await cliOk(['runs', 'retry', run.runId, '--database-url', admin.urlFor(db.url)]);
    expect(await statusOf(run.runId)).toBe('started');
    const dry = await cliOk(['prune', '--older-than', '30d', '--dry-run', '--json', '--database-url', admin.urlFor(db.url)]);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true });
  });
});
