/**
 * `pgflow-orm status` and `pgflow-orm runs` (list and show) as child
 * processes, text and --json, on a database with runs in every state:
 * completed, failed, waiting for a retry, in flight and queued, and with
 * live, stale and stopped workers.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import { bundledSchemaVersion } from '../../src/migrations/index.js';
import { createDatabase, databaseUrl, dropDatabase, useTestDatabase } from '../support/database.js';
import { cli, cliOk } from './support.js';

const db = useTestDatabase();
const live = randomUUID();
const stale = randomUUID();
const stopped = randomUUID();
const runs = {} as Record<'completed' | 'inFlight' | 'queued' | 'retrying' | 'failed', string>;
let emptyDatabase: string | undefined;

afterAll(async () => {
  if (emptyDatabase) await dropDatabase(emptyDatabase);
});

beforeAll(async () => {
  const pgflow = pgflowSql(db.pool);
  await db.query(`select pgflow.create_flow('cli_main', max_attempts => 3, base_delay => 5, timeout => 120)`);
  await db.query(`select pgflow.add_step('cli_main', 'first')`);
  await db.query(`select pgflow.add_step('cli_main', 'second', array['first'])`);
  await db.query(`select pgflow.create_flow('cli_retry', max_attempts => 3, base_delay => 600, timeout => 60)`);
  await db.query(`select pgflow.add_step('cli_retry', 'only')`);
  await db.query(`select pgflow.create_flow('cli_fail', max_attempts => 1)`);
  await db.query(`select pgflow.add_step('cli_fail', 'only')`);
  for (const [id, queue] of [[live, 'cli_main'], [stale, 'cli_main'], [stopped, 'cli_retry']] as const) await pgflow.registerWorker(id, queue, 'cli-test');
  await db.query(`update pgflow.workers set last_heartbeat_at = now() - interval '5 minutes' where worker_id = $1`, [stale]);
  await pgflow.stopWorker(stopped);

  // cli_main: one run completed, one with its first task in flight, one queued.
  runs.completed = (await pgflow.startFlow('cli_main', { order: 1 })).runId;
  runs.inFlight = (await pgflow.startFlow('cli_main', { order: 2 })).runId;
  for (const task of await pgflow.claimTasks('cli_main', live, 2)) {
    if (task.runId === runs.completed) await pgflow.completeTask({ runId: task.runId, stepSlug: 'first', output: { ok: 1 } });
  }
  const [second] = await pgflow.claimTasks('cli_main', live, 1);
  expect(second).toMatchObject({ runId: runs.completed, stepSlug: 'second' });
  await pgflow.completeTask({ runId: runs.completed, stepSlug: 'second', output: { done: true } });
  runs.queued = (await pgflow.startFlow('cli_main', { order: 3 })).runId;

  // cli_retry: a failed first attempt waits 600 s for its retry.
  runs.retrying = (await pgflow.startFlow('cli_retry', {})).runId;
  await pgflow.claimTasks('cli_retry', live, 1);
  await pgflow.failTask({ runId: runs.retrying, stepSlug: 'only', errorMessage: 'upstream said 503' });

  // cli_fail: its only attempt fails, and with it the run.
  runs.failed = (await pgflow.startFlow('cli_fail', {})).runId;
  await pgflow.claimTasks('cli_fail', live, 1);
  await pgflow.failTask({ runId: runs.failed, stepSlug: 'only', errorMessage: 'card declined: insufficient funds' });
});

describe('pgflow-orm status', () => {
  it('shows the version, runs by status, queue depth per flow and the workers', async () => {
    const { stdout } = await cliOk(['status', '--database-url', db.url]);
    const version = bundledSchemaVersion();
    expect(stdout).toContain(`pgflow    ${version} (supported by this pgflow-orm`);
    expect(stdout).toContain('postgres://postgres:***@');
    expect(stdout).toContain('runs      3 started (running), 1 completed, 1 failed, 0 cancelled');
    expect(stdout).toMatch(/flow\s+steps\s+running\s+completed\s+failed\s+visible\s+in flight\s+delayed\s+oldest visible\n/);
    expect(stdout).toMatch(/\n  cli_fail\s+1\s+0\s+0\s+1\s+0\s+0\s+0\s+-\n/);
    expect(stdout).toMatch(/\n  cli_main\s+2\s+2\s+1\s+0\s+1\s+1\s+0\s+\d+(\.\d+)? m?s\n/);
    expect(stdout).toMatch(/\n  cli_retry\s+1\s+1\s+0\s+0\s+0\s+0\s+1\s+-\n/);
    expect(stdout).toContain('workers   1 live, 1 stale (no heartbeat for more than 60 s), 1 stopped');
    expect(stdout).toMatch(new RegExp(`live\\s+${live}\\s+cli_main\\s+cli-test`));
    expect(stdout).toMatch(new RegExp(`stale\\s+${stale}\\s+cli_main\\s+cli-test\\s+.*5 min [0-5]\\d s ago`));
    expect(stdout).not.toContain(stopped);
  });

  it('--json prints the same as JSON; --stale-after moves the line between live and stale', async () => {
    const report = JSON.parse((await cliOk(['status', '--database-url', db.url, '--json'])).stdout);
    expect(report.pgflow).toEqual({ installed: bundledSchemaVersion(), supported: bundledSchemaVersion(), package: expect.any(String), compatible: true, problem: null });
    expect(report.runs).toEqual({ started: 3, completed: 1, failed: 1, cancelled: 0 });
    expect(report.flows.map((flow: { slug: string }) => flow.slug)).toEqual(['cli_fail', 'cli_main', 'cli_retry']);
    expect(report.flows[1]).toEqual({
      slug: 'cli_main',
      steps: 2,
      options: { maxAttempts: 3, baseDelay: 5, timeout: 120 },
      pausedAt: null,
      runs: { started: 2, completed: 1, failed: 0, cancelled: 0 },
      queue: { visible: 1, inFlight: 1, delayed: 0, oldestVisibleSeconds: expect.any(Number) },
    });
    expect(report.flows[2].queue).toEqual({ visible: 0, inFlight: 0, delayed: 1, oldestVisibleSeconds: null });
    expect(report.workers.live.map((worker: { workerId: string }) => worker.workerId)).toEqual([live]);
    expect(report.workers.stale).toEqual([expect.objectContaining({ workerId: stale, queueName: 'cli_main', functionName: 'cli-test' })]);
    expect(report.workers.stale[0].heartbeatAgeSeconds).toBeGreaterThanOrEqual(300);
    expect(report.workers.stopped).toBe(1);

    const relaxed = JSON.parse((await cliOk(['status', '--json', '--stale-after', '3600'], { env: { DATABASE_URL: db.url } })).stdout);
    expect(relaxed.workers.live).toHaveLength(2);
    expect(relaxed.workers.stale).toEqual([]);
  });

  it('fails with exit code 1 when pgflow is not installed or the server cannot be reached', async () => {
    emptyDatabase = await createDatabase(false);
    const url = databaseUrl(emptyDatabase);
    const text = await cli(['status', '--database-url', url]);
    expect(text).toMatchObject({ code: 1, stdout: '' });
    expect(text.stderr).toBe('pgflow-orm: pgflow is not installed in this database; install it with `pgflow-orm migrate` or your migrator (see the README)\n');
    const json = await cli(['status', '--database-url', url, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ pgflow: { installed: null, compatible: false, problem: 'not-installed' }, flows: [] });
    const listed = await cli(['runs', '--database-url', url]);
    expect(listed).toMatchObject({ code: 1, stderr: 'pgflow-orm: pgflow is not installed in this database; install it with `pgflow-orm migrate` or your migrator\n' });
    const refused = await cli(['status', '--database-url', 'postgres://someone:secret@127.0.0.1:1/app']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^pgflow-orm: cannot connect to postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/app: .*ECONNREFUSED/);
  });
});

describe('pgflow-orm runs', () => {
  it('lists runs newest first, filtered by flow and status, up to the limit', async () => {
    const { stdout } = await cliOk(['runs', '--database-url', db.url]);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^run id\s+flow\s+status\s+started \(UTC\)\s+duration\s+steps left$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual([runs.failed, runs.retrying, runs.queued, runs.inFlight, runs.completed]);
    expect(lines[1]).toMatch(new RegExp(`^${runs.failed}\\s+cli_fail\\s+failed\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\s+\\d+ ms\\s+-$`));
    expect(lines[3]).toMatch(new RegExp(`^${runs.queued}\\s+cli_main\\s+started\\s+.*so far\\s+2$`));

    const limited = await cliOk(['runs', 'list', '--limit', '2', '--database-url', db.url]);
    expect(limited.stdout.trimEnd().split('\n')).toHaveLength(3);

    const completed = JSON.parse((await cliOk(['runs', '--flow', 'cli_main', '--status', 'completed', '--json', '--database-url', db.url])).stdout);
    expect(completed).toEqual([
      expect.objectContaining({ runId: runs.completed, flowSlug: 'cli_main', status: 'completed', input: { order: 1 }, output: { second: { done: true } }, remainingSteps: 0 }),
    ]);
    expect(JSON.parse((await cliOk(['runs', '--flow', 'cli_none', '--json', '--database-url', db.url])).stdout)).toEqual([]);
    expect((await cliOk(['runs', '--flow', 'cli_none', '--database-url', db.url])).stdout).toBe('no runs\n');
  });

  it('show prints a run with its steps and tasks, attempts and errors', async () => {
    const failed = await cliOk(['runs', 'show', runs.failed, '--database-url', db.url]);
    expect(failed.stdout).toContain(`run       ${runs.failed}\nflow      cli_fail\nstatus    failed\n`);
    expect(failed.stdout).toMatch(/failed    \d{4}-.* UTC, after \d+ ms/);
    expect(failed.stdout).toMatch(/steps\n  step\s+status\s+started \(UTC\)\s+took\s+error\n  only\s+failed\s+\S+ \S+\s+\d+ ms\s+card declined: insufficient funds\n/);
    expect(failed.stdout).toMatch(/tasks\n  step\s+task\s+status\s+attempts\s+queued \(UTC\)\s+took\s+worker\s+last error\n  only\s+0\s+failed\s+1\s+.*card declined: insufficient funds\n/);

    const retrying = JSON.parse((await cliOk(['runs', 'show', runs.retrying, '--json', '--database-url', db.url])).stdout);
    expect(retrying.run).toMatchObject({ runId: runs.retrying, status: 'started', flowSlug: 'cli_retry' });
    expect(retrying.steps).toEqual([expect.objectContaining({ stepSlug: 'only', status: 'started' })]);
    expect(retrying.tasks).toEqual([expect.objectContaining({ stepSlug: 'only', status: 'queued', attemptsCount: 1, errorMessage: 'upstream said 503', lastWorkerId: live })]);

    const completed = await cliOk(['runs', 'show', runs.completed, '--database-url', db.url]);
    expect(completed.stdout).toContain('output    {"second":{"done":true}}');
    expect(completed.stdout).toMatch(/\n  first\s+0\s+completed\s+1\s/);
    expect(completed.stdout).toMatch(/\n  second\s+0\s+completed\s+1\s/);

    const missing = randomUUID();
    expect(await cli(['runs', 'show', missing, '--database-url', db.url])).toMatchObject({ code: 1, stdout: '', stderr: `pgflow-orm: run ${missing} does not exist\n` });
  });
});
