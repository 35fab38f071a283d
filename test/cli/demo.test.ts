/**
 * `pgflow-orm demo` end to end as a child process: against DATABASE_URL
 * (plain progress lines, as stdout is not a terminal), on the embedded
 * default with --json, interrupted with SIGINT, and refusing a database
 * whose demo flow differs.
 */
import { describe, expect, it } from 'vitest';
import { DEMO_FLOW_SLUG } from '../../src/demo/flow.js';
import { bundledSchemaVersion, readMigrations } from '../../src/migrations/index.js';
import { useTestDatabase } from '../support/database.js';
import { cli, startCli } from './support.js';

const db = useTestDatabase();

describe('pgflow-orm demo', () => {
  it('runs the order flow against DATABASE_URL, shows progress and a summary, and exits 0', { timeout: 60_000 }, async () => {
    const result = await cli(['demo', '--runs', '20', '--workers', '2'], { env: { DATABASE_URL: db.url } });
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    const out = result.stdout;
    expect(out).toContain(`The demo adds only its own flow "${DEMO_FLOW_SLUG}" and its runs.`);
    expect(out).toContain(`pgflow ${bundledSchemaVersion()} is already installed on PostgreSQL `);
    expect(out).toContain(`Flow "${DEMO_FLOW_SLUG}" (created): an order pipeline of 7 steps`);
    expect(out).toContain('  create_shipment   ← reserve_inventory, quote_shipping, charge_payment\n');
    expect(out).toContain('reserve_inventory fails on its first attempt for every 10th order (2 of 20) and is retried after 1 s');
    expect(out).toContain('Started 2 workers (concurrency 10 each); starting 20 runs ...');
    expect(out).toMatch(/\n100% runs 20\/20 \(20 completed, 0 failed\) \| steps 140\/140 \| failed attempts 2 \| \d+\.\d s\n/);
    expect(out).toContain('  runs        20 completed, 0 failed (of 20 started)\n');
    expect(out).toMatch(/  steps       140 completed, \d+ steps\/s/);
    expect(out).toContain('  retries     2 tasks needed a retry (attempts_count > 1); the workers saw 2 failed attempts\n');
    expect(out).toMatch(/  latency     p50 \d+\.\d\d s, p95 \d+\.\d\d s, max \d+\.\d\d s per run/);
    expect(out).toMatch(/  wall time   \d+\.\d\d s \(install \d+\.\d\d s, workers \d+\.\d\d s, runs \d+\.\d\d s\)/);
    expect(out).toMatch(/\n  reserve_inventory   20         2        \d+ ms/);
    expect(out).toMatch(/Output of run \S+ \(order ord-[0-9a-f]{6}-0007, whose reserve_inventory was retried\):\n  \{"send_confirmation":\{"to":"customer\d+@example\.com"/);

    // What the summary says is what the database holds.
    expect(await db.query(`select status, count(*)::int as n from pgflow.runs where flow_slug = $1 group by status`, [DEMO_FLOW_SLUG])).toEqual([{ status: 'completed', n: 20 }]);
    expect(
      await db.query(`select step_slug, attempts_count, error_message from pgflow.step_tasks where flow_slug = $1 and attempts_count > 1 order by step_slug`, [DEMO_FLOW_SLUG]),
    ).toEqual([
      { step_slug: 'reserve_inventory', attempts_count: 2, error_message: 'inventory service unavailable (HTTP 503); try again later' },
      { step_slug: 'reserve_inventory', attempts_count: 2, error_message: 'inventory service unavailable (HTTP 503); try again later' },
    ]);
    expect(await db.query(`select count(*)::int as n, count(stopped_at)::int as stopped from pgflow.workers where queue_name = $1`, [DEMO_FLOW_SLUG])).toEqual([{ n: 2, stopped: 2 }]);
  });

  it('starts an embedded PostgreSQL without configuration and reports JSON with --json', { timeout: 60_000 }, async () => {
    const result = await cli(['demo', '--runs', '10', '--workers', '1', '--json'], { env: { DATABASE_URL: undefined } });
    expect(result, result.stderr).toMatchObject({ code: 0 });
    expect(result.stderr).toContain('No DATABASE_URL given: starting an embedded PostgreSQL server');
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      ok: true,
      database: expect.stringMatching(/^embedded PostgreSQL \d+$/),
      pgflowVersion: bundledSchemaVersion(),
      installed: readMigrations().map((migration) => migration.tag),
      flowSlug: DEMO_FLOW_SLUG,
      workers: 1,
      runs: { started: 10, completed: 10, failed: 0, unfinished: 0 },
      steps: { completed: 70, retried: 1, failedAttempts: 1 },
      failures: [],
      interrupted: false,
      timedOut: false,
    });
    expect(report.latencyMs.p50).toBeGreaterThan(0);
    expect(report.latencyMs.p95).toBeGreaterThanOrEqual(report.latencyMs.p50);
    expect(report.timingsMs.server).toBeGreaterThan(0);
    expect(report.perStep.map((step: { step: string }) => step.step)).toEqual([
      'validate_order',
      'reserve_inventory',
      'check_fraud',
      'quote_shipping',
      'charge_payment',
      'create_shipment',
      'send_confirmation',
    ]);
    expect(report.sample).toMatchObject({ retried: true, output: { send_confirmation: { subject: expect.stringMatching(/^Order ord-[0-9a-f]{6}-0007 is on its way$/) } } });
  });

  it('exits non-zero when interrupted before every run finished, and when its flow in the database differs', { timeout: 60_000 }, async () => {
    const demo = startCli(['demo', '--runs', '200', '--workers', '1', '--progress', 'none'], { env: { DATABASE_URL: db.url } });
    await demo.waitFor(/starting 200 runs/);
    demo.child.kill('SIGINT');
    const interrupted = await demo.exited;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain('SIGINT received: stopping the demo');
    expect(interrupted.stdout).toContain('Interrupted before every run had finished.');
    expect(interrupted.stdout).toMatch(/  runs        \d+ completed, 0 failed, \d+ unfinished/);

    await db.query(`update pgflow.flows set opt_timeout = 11 where flow_slug = $1`, [DEMO_FLOW_SLUG]);
    const drifted = await cli(['demo', '--runs', '1'], { env: { DATABASE_URL: db.url } });
    expect(drifted.code).toBe(1);
    expect(drifted.stderr).toContain(`pgflow-orm: flow "${DEMO_FLOW_SLUG}" in the database differs from its definition in code:\n  - flow timeout: database 11, code 10\n`);
  });
});
