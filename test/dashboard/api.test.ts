/**
 * The dashboard's handler over HTTP against a real database: the JSON each
 * page reads (overview, flow, runs list with its filters and keyset pages,
 * run with retries, a real map step's tasks, skipped steps with their
 * reasons, a cancelled run, a paused flow, and cut-short values), the pages
 * and their 404s, the assets, the security headers, the mount path, and the
 * options it refuses. Every run is driven by the engine's own functions.
 */
import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowData, OverviewData, RunDetailData, RunsListData } from '../../src/dashboard/api-types.js';
import { createDashboard } from '../../src/dashboard/index.js';
import { completeTask, defineFlow, failTask, newWorkerId, startFlow, startTasks, takeTask, type Db } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { getJson, getText, serveTestDashboard, type TestDashboard } from './support.js';

const db = useTestDatabase();
let dashboard: TestDashboard;
const api = (path: string) => `${dashboard.url}api/${path}`;

interface Fixture {
  ordersRuns: string[];
  completedRun: string;
  retriedRun: string;
  otherRuns: string[];
  failedRun: string;
  mapRun: string;
  skippedRun: string;
  cancelledRun: string;
  bigOutput: { text: string };
}
let fixture: Fixture;

async function runDiamond(database: Db, runId: string, outputs: Record<string, unknown> = {}) {
  for (const step of ['start', 'branch_a', 'branch_b', 'join']) {
    await takeTask(database, 'orders', runId, step);
    await completeTask(database, runId, step, outputs[step] ?? { step });
  }
}

beforeAll(async () => {
  await defineFlow(db, 'orders', {
    maxAttempts: 2,
    baseDelay: 30,
    steps: [{ slug: 'start' }, { slug: 'branch_a', deps: ['start'] }, { slug: 'branch_b', deps: ['start'], timeout: 7 }, { slug: 'join', deps: ['branch_a', 'branch_b'] }],
  });
  await defineFlow(db, 'other', { maxAttempts: 1, steps: ['only'] });
  // A map over the output of split: one task per element.
  await defineFlow(db, 'mapped', { steps: ['split', { slug: 'each', deps: ['split'], stepType: 'map' }] });
  // Conditions: review runs only for risky orders and takes notify_reviewer with it when skipped; enrich is best effort.
  await defineFlow(db, 'gated', {
    steps: [
      'classify',
      { slug: 'review', deps: ['classify'], if: { classify: { risk: 'high' } }, whenUnmet: 'skip-cascade' },
      { slug: 'notify_reviewer', deps: ['review'] },
      { slug: 'enrich', deps: ['classify'], maxAttempts: 1, whenExhausted: 'skip' },
      { slug: 'ship', deps: ['classify', 'enrich'] },
    ],
  });

  const ordersRuns: string[] = [];
  for (let n = 1; n <= 6; n++) ordersRuns.push((await startFlow(db, 'orders', { n, customer: `c${n % 2}` })).run_id);
  const bigOutput = { text: 'x'.repeat(9000) };
  const completedRun = ordersRuns[0]!;
  await runDiamond(db, completedRun, { join: bigOutput });
  const retriedRun = ordersRuns[1]!;
  await takeTask(db, 'orders', retriedRun, 'start');
  await failTask(db, retriedRun, 'start', 'HTTP 503 from the inventory service');

  const otherRuns: string[] = [];
  for (let n = 1; n <= 3; n++) otherRuns.push((await startFlow(db, 'other', { n })).run_id);
  const failedRun = otherRuns[0]!;
  await takeTask(db, 'other', failedRun, 'only');
  await failTask(db, failedRun, 'only', 'boom');

  // split returns three items, so the map queues three tasks; the first of them completes.
  const mapRun = (await startFlow(db, 'mapped', {})).run_id;
  await takeTask(db, 'mapped', mapRun, 'split');
  await completeTask(db, mapRun, 'split', ['a', 'b', 'c']);
  const [first] = await db.query<{ message_id: string }>(`select message_id from pgflow.step_tasks where run_id = $1 and step_slug = 'each' and task_index = 0`, [mapRun]);
  expect(await startTasks(db, 'mapped', [first!.message_id], newWorkerId())).toMatchObject([{ step_slug: 'each', task_index: 0, input: 'a' }]);
  await completeTask(db, mapRun, 'each', { item: 0 }, 0);

  // A low-risk order: review is skipped (and notify_reviewer with it), enrich fails its only attempt and is skipped, ship runs.
  const skippedRun = (await startFlow(db, 'gated', { order: 1 })).run_id;
  await takeTask(db, 'gated', skippedRun, 'classify');
  await completeTask(db, skippedRun, 'classify', { risk: 'low' });
  await takeTask(db, 'gated', skippedRun, 'enrich');
  await failTask(db, skippedRun, 'enrich', 'the enrichment service is down');
  await takeTask(db, 'gated', skippedRun, 'ship');
  await completeTask(db, skippedRun, 'ship', { shipped: true });
  // Cancelled while its first task waits in the queue.
  const cancelledRun = (await startFlow(db, 'gated', { order: 2 })).run_id;
  await db.query(`select * from pgflow.cancel_run($1::uuid, $2::text)`, [cancelledRun, 'the customer changed the order']);
  await db.query(`select pgflow.pause_flow('other')`);

  // Workers: one live, one stale, one stopped.
  await db.query(`select pgflow.register_worker($1::uuid, 'orders', 'live-worker')`, [randomUUID()]);
  const stale = randomUUID();
  await db.query(`select pgflow.register_worker($1::uuid, 'orders', 'stale-worker')`, [stale]);
  await db.query(`update pgflow.workers set started_at = now() - interval '1 hour', last_heartbeat_at = now() - interval '5 minutes' where worker_id = $1`, [stale]);
  const stopped = randomUUID();
  await db.query(`select pgflow.register_worker($1::uuid, 'orders', 'stopped-worker')`, [stopped]);
  await db.query(`select pgflow.stop_worker($1::uuid)`, [stopped]);

  fixture = { ordersRuns, completedRun, retriedRun, otherRuns, failedRun, mapRun, skippedRun, cancelledRun, bigOutput };
  dashboard = await serveTestDashboard({ pool: db.pool });
});

afterAll(async () => {
  await dashboard?.close();
});

describe('the overview', () => {
  it('counts runs by status in the window, runs in progress, the failure rate, tasks per second, queue depth and workers', async () => {
    const { status, body } = await getJson<OverviewData>(api('overview'));
    expect(status).toBe(200);
    expect(body.pgflow.installed).toBe(body.pgflow.supported);
    expect(body.window).toBe('hour');
    expect(body.buckets).toHaveLength(12);
    expect(body.flows.map((flow) => flow.slug)).toEqual(['gated', 'mapped', 'orders', 'other']);
    const orders = body.flows.find((flow) => flow.slug === 'orders')!;
    const other = body.flows.find((flow) => flow.slug === 'other')!;
    const gated = body.flows.find((flow) => flow.slug === 'gated')!;
    expect(orders).toMatchObject({ steps: 4, running: 5, windowCounts: { started: 5, completed: 1 }, failureRate: 0, pausedAt: null });
    expect(other).toMatchObject({ steps: 1, running: 2, windowCounts: { started: 2, failed: 1 }, failureRate: 1 });
    // A cancelled run is counted under its status, and as neither success nor failure.
    expect(gated).toMatchObject({ steps: 5, running: 0, windowCounts: { completed: 1, cancelled: 1 }, failureRate: 0 });
    const [paused] = await db.query<{ paused_at: Date }>(`select paused_at from pgflow.flows where flow_slug = 'other'`);
    expect(other.pausedAt).toBe(paused!.paused_at.toISOString());
    // Every run started within the last few seconds lands in the last bucket.
    expect(orders.chart.at(-1)).toEqual({ started: 5, completed: 1 });
    expect(orders.chart.slice(0, -1).every((bucket) => Object.keys(bucket).length === 0)).toBe(true);

    const [tasks] = await db.query<{ n: number }>(`select count(*)::int as n from pgflow.step_tasks where flow_slug = 'orders' and status = 'completed' and completed_at > now() - interval '60 seconds'`);
    expect(orders.tasksPerSecond).toBe(Math.round((tasks!.n / 60) * 100) / 100);
    expect(tasks!.n).toBe(4);

    const [queue] = await db.query<{ visible: number; hidden: number }>(
      `select count(*) filter (where vt <= now())::int as visible, count(*) filter (where vt > now())::int as hidden from pgmq.q_orders`,
    );
    // Four runs wait with their root task visible; the retried run's task waits 30 s for its retry.
    expect(queue).toEqual({ visible: 4, hidden: 1 });
    expect(orders.queue).toMatchObject({ visible: 4, inFlight: 0, delayed: 1 });
    expect(orders.queue!.oldestVisibleSeconds).toBeGreaterThanOrEqual(0);

    // Workers that took tasks in the fixture registered implicitly ('unregistered'); the stopped one is not listed.
    expect(body.workers.live.map((worker) => worker.functionName).filter((name) => name !== 'unregistered')).toEqual(['live-worker']);
    expect(body.workers.stale.map((worker) => worker.functionName)).toEqual(['stale-worker']);
    expect(body.workers.stale[0]!.heartbeatAgeSeconds).toBeGreaterThanOrEqual(300);
    expect(body.workers.notListed).toBe(0);
  });

  it('takes window=day and refuses other windows', async () => {
    const day = await getJson<OverviewData>(api('overview?window=day'));
    expect(day.body.buckets).toHaveLength(24);
    expect(day.body.bucketSeconds).toBe(3600);
    const bad = await getJson(api('overview?window=week'));
    expect(bad).toMatchObject({ status: 400, body: { error: 'window must be hour or day (got "week")' } });
  });
});

describe('a flow', () => {
  it('lists steps with their dependencies, types and options, and its newest runs', async () => {
    const { status, body } = await getJson<FlowData>(api('flows/orders'));
    expect(status).toBe(200);
    expect(body.flow.options).toEqual({ maxAttempts: 2, baseDelay: 30, timeout: 60 });
    expect(body.flow.steps.map((step) => [step.slug, step.type, step.dependsOn])).toEqual([
      ['start', 'single', []],
      ['branch_a', 'single', ['start']],
      ['branch_b', 'single', ['start']],
      ['join', 'single', ['branch_a', 'branch_b']],
    ]);
    expect(body.flow.steps[2]!.options).toEqual({ maxAttempts: null, baseDelay: null, timeout: 7, startDelay: null });
    expect(body.recentRuns.map((run) => run.runId)).toEqual([...fixture.ordersRuns].reverse());
    expect(body.selectedRun).toBeNull();
  });

  it('gives the step statuses of a selected run of the flow, and marks map steps', async () => {
    const selected = await getJson<FlowData>(api(`flows/orders?run=${fixture.completedRun}`));
    expect(selected.body.selectedRun?.run.status).toBe('completed');
    expect(selected.body.selectedRun?.steps.map((step) => step.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    // A run of another flow is not selected.
    expect((await getJson<FlowData>(api(`flows/orders?run=${fixture.failedRun}`))).body.selectedRun).toBeNull();
    const mapped = await getJson<FlowData>(api('flows/mapped'));
    expect(mapped.body.flow.steps.map((step) => [step.slug, step.type, step.dependsOn])).toEqual([
      ['split', 'single', []],
      ['each', 'map', ['split']],
    ]);
    expect(mapped.body.flow.pausedAt).toBeNull();
    expect((await getJson<FlowData>(api('flows/other'))).body.flow.pausedAt).toEqual(expect.any(String));
  });

  it('gives each step’s condition, and the skip reasons of a selected run', async () => {
    const { body } = await getJson<FlowData>(api(`flows/gated?run=${fixture.skippedRun}`));
    const conditions = Object.fromEntries(body.flow.steps.map((step) => [step.slug, step.condition]));
    expect(conditions.review).toEqual({ requiredInputPattern: { classify: { risk: 'high' } }, forbiddenInputPattern: null, whenUnmet: 'skip-cascade', whenExhausted: 'fail' });
    expect(conditions.enrich).toEqual({ requiredInputPattern: null, forbiddenInputPattern: null, whenUnmet: 'skip', whenExhausted: 'skip' });
    const steps = Object.fromEntries(body.selectedRun!.steps.map((step) => [step.slug, [step.status, step.skipReason]]));
    expect(steps).toEqual({
      classify: ['completed', null],
      review: ['skipped', 'condition_unmet'],
      notify_reviewer: ['skipped', 'dependency_skipped'],
      enrich: ['skipped', 'handler_failed'],
      ship: ['completed', null],
    });
  });

  it('answers 404 with a message for a flow that does not exist', async () => {
    expect(await getJson(api('flows/nope'))).toMatchObject({ status: 404, body: { error: 'there is no flow "nope"' } });
    expect(await getJson(api(`flows/${encodeURIComponent('a"b<c>')}`))).toMatchObject({ status: 404, body: { error: 'there is no flow "a"b<c>"' } });
  });
});

describe('the runs list', () => {
  const ids = (body: RunsListData) => body.runs.map((run) => run.runId);
  const allRuns = () => [...fixture.ordersRuns, ...fixture.otherRuns, fixture.mapRun, fixture.skippedRun, fixture.cancelledRun].sort().reverse();

  it('lists runs newest first and filters by flow and status', async () => {
    expect(ids((await getJson<RunsListData>(api('runs'))).body)).toEqual(allRuns());
    expect(ids((await getJson<RunsListData>(api('runs?flow=other'))).body)).toEqual([...fixture.otherRuns].reverse());
    expect(ids((await getJson<RunsListData>(api('runs?status=failed'))).body)).toEqual([fixture.failedRun]);
    expect(ids((await getJson<RunsListData>(api('runs?flow=orders&status=completed'))).body)).toEqual([fixture.completedRun]);
    expect(ids((await getJson<RunsListData>(api('runs?flow=other&status=completed'))).body)).toEqual([]);
    const cancelled = (await getJson<RunsListData>(api('runs?status=cancelled'))).body;
    expect(ids(cancelled)).toEqual([fixture.cancelledRun]);
    expect(cancelled.runs[0]).toMatchObject({ status: 'cancelled', completedAt: null, failedAt: null, cancelledAt: expect.any(String) });
  });

  it('pages through every run with a keyset cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `runs?limit=3${cursor ? `&before=${cursor}` : ''}`;
      const { body }: { body: RunsListData } = await getJson<RunsListData>(api(query));
      expect(body.runs.length).toBeLessThanOrEqual(3);
      seen.push(...ids(body));
      cursor = body.next;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(4);
    expect(seen).toEqual(allRuns());
  });

  it('filters by start time, run id and input containment', async () => {
    const [first] = await db.query<{ started_at: Date }>(`select min(started_at) as started_at from pgflow.runs`);
    const from = new Date(first!.started_at.getTime() - 1000).toISOString();
    expect(ids((await getJson<RunsListData>(api(`runs?from=${from}`))).body)).toEqual(allRuns());
    expect(ids((await getJson<RunsListData>(api(`runs?from=${new Date(Date.now() + 3_600_000).toISOString()}`))).body)).toEqual([]);
    expect(ids((await getJson<RunsListData>(api(`runs?to=${from}`))).body)).toEqual([]);
    expect(ids((await getJson<RunsListData>(api(`runs?q=${fixture.retriedRun.toUpperCase()}`))).body)).toEqual([fixture.retriedRun]);
    const byInput = await getJson<RunsListData>(api(`runs?q=${encodeURIComponent('{"n": 3}')}`));
    expect(ids(byInput.body)).toEqual([fixture.otherRuns[2], fixture.ordersRuns[2]]);
    expect(byInput.body.scanned).toBe(allRuns().length);
    const byNested = await getJson<RunsListData>(api(`runs?flow=orders&q=${encodeURIComponent('{"customer": "c1"}')}`));
    expect(ids(byNested.body)).toEqual([fixture.ordersRuns[4], fixture.ordersRuns[2], fixture.ordersRuns[0]]);
  });

  it('answers 400 with a message for malformed filters', async () => {
    const error = async (query: string) => (await getJson<{ error: string }>(api(`runs?${query}`))).body.error;
    expect((await getJson(api('runs?status=x%27y'))).status).toBe(400);
    expect(await error('status=x%27y')).toBe(`status must be a run status: started, completed, failed or cancelled (got "x'y")`);
    expect(await error('from=yesterday')).toBe('from must be a date and time such as 2026-01-31T14:00:00Z (got "yesterday")');
    expect(await error('from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z')).toBe('from must be earlier than to');
    expect(await error('before=123')).toBe('before must be a run id (got "123")');
    expect(await error('limit=0')).toBe('limit must be a whole number from 1 to 200 (got "0")');
    expect(await error('q=%5B1%5D')).toBe('an input search is a JSON object, such as {"orderId": "ord-1"} (got [1])');
    expect(await error('q=order-7')).toBe('search for a run id or a JSON object the input contains, such as {"orderId": "ord-1"} (got "order-7")');
  });
});

describe('a run', () => {
  it('shows its steps, tasks, input and output, and cuts long values short with the whole value on request', async () => {
    const { status, body } = await getJson<RunDetailData>(api(`runs/${fixture.completedRun}`));
    expect(status).toBe(200);
    expect(body.run).toMatchObject({ runId: fixture.completedRun, flowSlug: 'orders', status: 'completed', remainingSteps: 0 });
    expect(JSON.parse(body.run.input.text)).toEqual({ n: 1, customer: 'c1' });
    expect(body.flow.steps.map((step) => step.slug)).toEqual(['start', 'branch_a', 'branch_b', 'join']);
    expect(body.steps.map((step) => step.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(body.tasks.map((task) => [task.stepSlug, task.taskIndex, task.status, task.attemptsCount])).toEqual([
      ['branch_a', 0, 'completed', 1],
      ['branch_b', 0, 'completed', 1],
      ['join', 0, 'completed', 1],
      ['start', 0, 'completed', 1],
    ]);
    const output = body.run.output!;
    expect(output.truncated).toBe(true);
    expect(output.text.length).toBe(4000);
    expect(output.length).toBeGreaterThan(9000);
    const join = body.tasks.find((task) => task.stepSlug === 'join')!;
    expect(join.output).toMatchObject({ truncated: true });
    expect(join.output!.text.length).toBe(1000);

    const whole = await getJson<{ text: string }>(api(`runs/${fixture.completedRun}/value?part=output`));
    expect(JSON.parse(whole.body.text)).toEqual({ join: fixture.bigOutput });
    expect(whole.body.text.length).toBe(output.length);
    const task = await getJson<{ text: string }>(api(`runs/${fixture.completedRun}/value?part=task&step=join&task=0`));
    expect(JSON.parse(task.body.text)).toEqual(fixture.bigOutput);
    expect(await getJson(api(`runs/${fixture.completedRun}/value?part=task&step=join&task=1`))).toMatchObject({
      status: 404,
      body: { error: `run ${fixture.completedRun} has no task 1 of step "join"` },
    });
    expect(await getJson(api(`runs/${fixture.completedRun}/value?part=secrets`))).toMatchObject({ status: 400, body: { error: 'part must be input, output or task (got "secrets")' } });
  });

  it('shows a retried task with its attempt count, its last error and when its next attempt can start', async () => {
    const { body } = await getJson<RunDetailData>(api(`runs/${fixture.retriedRun}`));
    const start = body.tasks.find((task) => task.stepSlug === 'start')!;
    expect(start).toMatchObject({ status: 'queued', attemptsCount: 1, errorMessage: 'HTTP 503 from the inventory service', startedAt: null });
    const [message] = await db.query<{ vt: Date }>(`select q.vt from pgmq.q_orders q join pgflow.step_tasks t on t.message_id = q.msg_id where t.run_id = $1`, [fixture.retriedRun]);
    expect(start.visibleAt).toBe(message!.vt.toISOString());
    expect(new Date(start.visibleAt!).getTime()).toBeGreaterThan(new Date(body.now).getTime() + 20_000);
  });

  it('lists every task of a map step by task_index', async () => {
    const { body } = await getJson<RunDetailData>(api(`runs/${fixture.mapRun}`));
    expect(body.flow.steps.find((step) => step.slug === 'each')?.type).toBe('map');
    expect(body.tasks.filter((task) => task.stepSlug === 'each').map((task) => [task.taskIndex, task.status])).toEqual([
      [0, 'completed'],
      [1, 'queued'],
      [2, 'queued'],
    ]);
    expect(body.steps.find((step) => step.slug === 'each')).toMatchObject({ status: 'started', initialTasks: 3, remainingTasks: 2 });
    expect(JSON.parse(body.tasks.find((task) => task.stepSlug === 'each' && task.taskIndex === 0)!.output!.text)).toEqual({ item: 0 });
  });

  it('shows skipped steps with their reasons, and the last error of a step skipped after its task failed', async () => {
    const { body } = await getJson<RunDetailData>(api(`runs/${fixture.skippedRun}`));
    expect(body.run).toMatchObject({ status: 'completed', cancelledAt: null, cancelReason: null });
    const steps = Object.fromEntries(body.steps.map((step) => [step.slug, step]));
    expect(steps.review).toMatchObject({ status: 'skipped', skipReason: 'condition_unmet', startedAt: null, errorMessage: null, skippedAt: expect.any(String) });
    expect(steps.notify_reviewer).toMatchObject({ status: 'skipped', skipReason: 'dependency_skipped' });
    expect(steps.enrich).toMatchObject({ status: 'skipped', skipReason: 'handler_failed', errorMessage: 'the enrichment service is down' });
    expect(steps.ship).toMatchObject({ status: 'completed', skipReason: null, skippedAt: null });
    expect(body.tasks.map((task) => [task.stepSlug, task.status])).toEqual([
      ['classify', 'completed'],
      ['enrich', 'failed'],
      ['ship', 'completed'],
    ]);
    expect(JSON.parse(body.run.output!.text)).toEqual({ ship: { shipped: true } });
  });

  it('shows a cancelled run with its reason, and its cancelled steps and task', async () => {
    const { body } = await getJson<RunDetailData>(api(`runs/${fixture.cancelledRun}`));
    const [row] = await db.query<{ cancelled_at: Date }>(`select cancelled_at from pgflow.runs where run_id = $1`, [fixture.cancelledRun]);
    expect(body.run).toMatchObject({ status: 'cancelled', cancelledAt: row!.cancelled_at.toISOString(), cancelReason: 'the customer changed the order', completedAt: null, failedAt: null });
    expect(body.steps.map((step) => step.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(body.steps.filter((step) => step.cancelledAt === null)).toEqual([]);
    expect(body.tasks).toMatchObject([{ stepSlug: 'classify', status: 'cancelled', startedAt: null, cancelledAt: expect.any(String), visibleAt: null }]);
  });

  it('answers 404 with a message for a malformed or unknown run id', async () => {
    expect(await getJson(api('runs/12345'))).toMatchObject({
      status: 404,
      body: { error: '"12345" is not a run id: run ids are UUIDs such as 0190a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b' },
    });
    const missing = randomUUID();
    expect(await getJson(api(`runs/${missing}`))).toMatchObject({ status: 404, body: { error: `there is no run ${missing}` } });
  });
});

describe('pages, assets and headers', () => {
  it('serves the page with its config and 404 for a flow, run or page that does not exist', async () => {
    const page = await getText(dashboard.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<base href="/">');
    const config = JSON.parse(page.body.match(/<meta name="pgflow-dashboard" content="([^"]*)">/)![1]!.replace(/&#34;/g, '"')) as Record<string, unknown>;
    expect(config).toMatchObject({ basePath: '', actionsEnabled: false });
    expect(page.headers.get('set-cookie')).toBe(`pgflow_dashboard_csrf=${encodeURIComponent(config.csrfToken as string)}; Path=/; HttpOnly; SameSite=Strict`);

    expect((await getText(`${dashboard.url}flows/orders`)).status).toBe(200);
    expect((await getText(`${dashboard.url}runs`)).status).toBe(200);
    expect((await getText(`${dashboard.url}runs/${fixture.failedRun}`)).status).toBe(200);
    expect((await getText(`${dashboard.url}flows/nope`)).status).toBe(404);
    expect((await getText(`${dashboard.url}runs/not-a-run`)).status).toBe(404);
    expect((await getText(`${dashboard.url}runs/${randomUUID()}`)).status).toBe(404);
    expect((await getText(`${dashboard.url}settings`)).status).toBe(404);
    expect((await getJson(api('nothing'))).status).toBe(404);
  });

  it('serves the built assets and nothing else from their folder, with a strict Content-Security-Policy', async () => {
    const page = await getText(dashboard.url);
    const script = page.body.match(/src="\.\/(assets\/[^"]+\.js)"/)![1]!;
    const asset = await getText(`${dashboard.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.body).not.toMatch(/https?:\/\/(?!www\.w3\.org|github\.com\/preactjs)/);
    expect((await getText(`${dashboard.url}assets/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await getText(`${dashboard.url}assets/index.html`)).status).toBe(404);
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    );
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect((await getText(dashboard.url, { method: 'DELETE' })).status).toBe(405);
    expect((await getText(`${dashboard.url}api/overview`, { method: 'POST' })).status).toBe(405);
  });
});

describe('mounting and options', () => {
  it('serves under basePath, with the mount path in links, and leaves other paths to the app', async () => {
    const mounted = await serveTestDashboard({ pool: db.pool, basePath: '/admin/pgflow/' });
    try {
      expect(mounted.url).toMatch(/\/admin\/pgflow\/$/);
      const page = await getText(mounted.url);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<base href="/admin/pgflow/">');
      expect(page.headers.get('set-cookie')).toContain('Path=/admin/pgflow;');
      expect((await getText(mounted.url.replace(/\/$/, ''))).status).toBe(200);
      expect((await getJson<FlowData>(`${mounted.url}api/flows/orders`)).body.flow.slug).toBe('orders');
      expect((await getText(mounted.url.replace('/admin/pgflow/', '/admin/other'))).status).toBe(404);
    } finally {
      await mounted.close();
    }
    // With Express's `next`, a path outside the mount path goes on to the app.
    const handler = createDashboard({ pool: db.pool, basePath: '/admin/pgflow' });
    try {
      const req = new IncomingMessage(new Socket());
      req.url = '/elsewhere';
      req.method = 'GET';
      const res = new ServerResponse(req);
      const passed = await new Promise<boolean>((resolve) => {
        handler(req, res, () => resolve(true));
        setTimeout(() => resolve(false), 1000);
      });
      expect(passed).toBe(true);
      expect(res.headersSent).toBe(false);
    } finally {
      await handler.close();
    }
  });

  it('refuses options it cannot work with, saying why', () => {
    expect(() => createDashboard({ pool: db.pool, allowActions: true })).toThrow(
      'createDashboard: allowActions needs authorize(req, access), which decides who may cancel, retry, pause or resume',
    );
    expect(() => createDashboard({ pool: db.pool, basePath: 'admin"><script>' })).toThrow(/^createDashboard: basePath must be a path such as \/admin\/pgflow/);
    expect(() => createDashboard({})).toThrow('createDashboard: pass `connectionString`, `pool` or `db`');
    // A Kysely instance cannot give a dedicated connection for LISTEN.
    const kyselyLike = { executeQuery: async () => ({ rows: [] }), getExecutor: () => ({}) };
    expect(() => createDashboard({ db: kyselyLike })).toThrow(/live updates need a connection of their own for LISTEN, which this `db` cannot provide; pass `pool`/);
    expect(() => createDashboard({ db: kyselyLike, connectionString: db.url }).close()).not.toThrow();
  });

  it('reads through a connection string and the db forms of the package (Drizzle on a pool)', async () => {
    const { drizzle } = await import('drizzle-orm/node-postgres');
    for (const options of [{ connectionString: db.url }, { db: drizzle(db.pool) }]) {
      const served = await serveTestDashboard(options);
      try {
        const { body } = await getJson<RunsListData>(`${served.url}api/runs?status=failed`);
        expect(body.runs.map((run) => run.runId)).toEqual([fixture.failedRun]);
      } finally {
        await served.close();
      }
    }
  });
});


