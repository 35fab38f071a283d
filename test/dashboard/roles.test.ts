/**
 * The dashboard connected as a production role (see docs/guides/roles.md):
 * with pgflow's reader level it shows every page exactly as the
 * owner sees it and follows events live, and its actions are unavailable,
 * saying which level to grant; with the admin level the actions work. A role
 * without a level, or with only the client level, gets a 403 naming the
 * statement that grants the reader level. `pgflow-orm dashboard` says the
 * same at start-up.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionsData, FlowData, OverviewData, RunDetailData, RunsListData } from '../../src/dashboard/api-types.js';
import { cli, startCli } from '../cli/support.js';
import { completeTask, defineFlow, drain, getRun, startFlow, takeTask } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { useRolesOn, type LoginRole } from '../support/roles.js';
import { getJson, getText, openSse, serveTestDashboard, type SseMessage, type TestDashboard } from './support.js';

const db = useTestDatabase();
const role = useRolesOn(db);
let owner: TestDashboard;
const served: TestDashboard[] = [];
const runs: Record<'mapped' | 'cancelled' | 'waiting', string> = { mapped: '', cancelled: '', waiting: '' };

/** A login role with `level` (none: no pgflow level at all). */
async function roleWith(level: 'reader' | 'admin' | 'client' | 'none'): Promise<LoginRole> {
  const created = await role(`dash_${level}`);
  if (level !== 'none') await db.query(`select pgflow.grant_${level}($1)`, [created.name]);
  return created;
}

/** The dashboard connected as `login`, with actions allowed. */
async function dashboardAs(login: LoginRole): Promise<TestDashboard> {
  const dashboard = await serveTestDashboard({ connectionString: login.urlFor(db.url), allowActions: true, authorize: () => true });
  served.push(dashboard);
  return dashboard;
}

async function post(dashboard: TestDashboard, action: string, body: unknown) {
  const page = await getText(dashboard.url);
  const token = (JSON.parse(page.body.match(/<meta name="pgflow-dashboard" content="([^"]*)">/)![1]!.replace(/&#34;/g, '"')) as { csrfToken: string }).csrfToken;
  const response = await fetch(`${dashboard.url}api/actions/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-pgflow-csrf': token, cookie: page.headers.get('set-cookie')!.split(';')[0]! },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The overview without what changes from one read to the next (clock, ages). */
function stableOverview(data: OverviewData) {
  return {
    pgflow: data.pgflow,
    flows: data.flows.map((flow) => ({ ...flow, chart: undefined, queue: flow.queue && { ...flow.queue, oldestVisibleSeconds: typeof flow.queue.oldestVisibleSeconds } })),
    workers: [...data.workers.live, ...data.workers.stale].map((worker) => worker.workerId).sort(),
  };
}

beforeAll(async () => {
  await defineFlow(db, 'role_flow', {
    steps: ['split', { slug: 'each', deps: ['split'], stepType: 'map' }, { slug: 'audit', deps: ['split'], if: { split: { audit: true } } }],
  });
  runs.mapped = (await startFlow(db, 'role_flow', { n: 1 })).run_id;
  await drain(db, 'role_flow', (task) => (task.step_slug === 'split' ? ['a', 'b'] : { seen: task.input }));
  runs.cancelled = (await startFlow(db, 'role_flow', { n: 2 })).run_id;
  await db.query(`select pgflow.cancel_run($1::uuid, 'by the owner')`, [runs.cancelled]);
  runs.waiting = (await startFlow(db, 'role_flow', { n: 3 })).run_id;
  await db.query(`select pgflow.register_worker($1::uuid, 'role_flow', 'role-worker')`, [randomUUID()]);
  owner = await serveTestDashboard({ pool: db.pool });
});

afterAll(async () => {
  await Promise.all([owner?.close(), ...served.map((dashboard) => dashboard.close())]);
});

describe('a dashboard whose role has the reader level', () => {
  let reader: LoginRole;
  let dashboard: TestDashboard;
  beforeAll(async () => {
    reader = await roleWith('reader');
    dashboard = await dashboardAs(reader);
  });

  it('shows every page as the owner sees it: overview with queue depth and workers, flow, runs list, runs and their values', async () => {
    const read = async <T>(base: TestDashboard, path: string) => {
      const response = await getJson<T>(`${base.url}api/${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      return response.body;
    };
    const [mine, theirs] = await Promise.all([read<OverviewData>(dashboard, 'overview'), read<OverviewData>(owner, 'overview')]);
    expect(stableOverview(mine)).toEqual(stableOverview(theirs));
    expect(mine.flows[0]).toMatchObject({ slug: 'role_flow', running: 1, windowCounts: { completed: 1, cancelled: 1, started: 1 }, queue: { visible: 1 } });
    expect(mine.workers.live.map((worker) => worker.functionName)).toContain('role-worker');

    for (const path of [`flows/role_flow?run=${runs.mapped}`, 'runs', 'runs?status=cancelled', `runs?q=${encodeURIComponent('{"n": 3}')}`]) {
      expect(await read<FlowData | RunsListData>(dashboard, path)).toEqual(await read<FlowData | RunsListData>(owner, path));
    }
    for (const run of Object.values(runs)) {
      const { now: _mine, ...readerRun } = await read<RunDetailData>(dashboard, `runs/${run}`);
      const { now: _theirs, ...ownerRun } = await read<RunDetailData>(owner, `runs/${run}`);
      expect(readerRun).toEqual(ownerRun);
    }
    const mapped = await read<RunDetailData>(dashboard, `runs/${runs.mapped}`);
    expect(mapped.steps.find((step) => step.slug === 'audit')).toMatchObject({ status: 'skipped', skipReason: 'condition_unmet' });
    expect(mapped.tasks.filter((task) => task.stepSlug === 'each').map((task) => task.status)).toEqual(['completed', 'completed']);
    // The waiting run's task is visible in the queue, which the reader may read.
    expect((await read<RunDetailData>(dashboard, `runs/${runs.waiting}`)).tasks).toMatchObject([{ stepSlug: 'split', status: 'queued', visibleAt: null }]);
    expect(await read<{ text: string }>(dashboard, `runs/${runs.mapped}/value?part=task&step=each&task=1`)).toEqual({ text: JSON.stringify({ seen: 'b' }, null, 4) });
  });

  it('follows events live: its LISTEN needs no more than the reader level', async () => {
    const stream = await openSse(`${dashboard.url}api/live?view=run&run=${runs.waiting}`);
    try {
      await stream.next((message) => message.event === 'update');
      const from = stream.messages.length;
      await takeTask(db, 'role_flow', runs.waiting, 'split');
      await completeTask(db, runs.waiting, 'split', []);
      const completed = (message: SseMessage) => message.event === 'update' && (message.data as RunDetailData).run.status === 'completed';
      await stream.next(completed, { from });
    } finally {
      stream.close();
    }
  });

  it('lists the actions as unavailable, naming the statement that grants the admin level, and refuses them with 403', async () => {
    const { body } = await getJson<ActionsData>(`${dashboard.url}api/actions`);
    const reason = (fn: string) => `the dashboard's database role "${reader.name}" may not call ${fn}: give it pgflow's admin access level with select pgflow.grant_admin('${reader.name}');`;
    expect(body.actions.map((action) => [action.name, action.available, action.unavailableReason])).toEqual([
      ['cancel-run', false, reason('pgflow.cancel_run(uuid, text)')],
      ['retry-run', false, reason('pgflow.retry_run(uuid)')],
      ['pause-flow', false, reason('pgflow.pause_flow(text)')],
      ['resume-flow', false, reason('pgflow.resume_flow(text)')],
    ]);
    const run = (await startFlow(db, 'role_flow', { n: 4 })).run_id;
    expect(await post(dashboard, 'cancel-run', { runId: run })).toEqual({ status: 403, body: { error: reason('pgflow.cancel_run(uuid, text)') } });
    expect(await post(dashboard, 'pause-flow', { flowSlug: 'role_flow' })).toEqual({ status: 403, body: { error: reason('pgflow.pause_flow(text)') } });
    expect((await getRun(db, run)).status).toBe('started');
    expect(await db.query(`select paused_at from pgflow.flows where flow_slug = 'role_flow'`)).toEqual([{ paused_at: null }]);
  });
});

describe('a dashboard whose role has the admin level', () => {
  it('reads every page and runs every action', async () => {
    const dashboard = await dashboardAs(await roleWith('admin'));
    expect((await getJson<ActionsData>(`${dashboard.url}api/actions`)).body.actions.map((action) => [action.name, action.available, action.unavailableReason])).toEqual([
      ['cancel-run', true, null],
      ['retry-run', true, null],
      ['pause-flow', true, null],
      ['resume-flow', true, null],
    ]);
    expect((await getJson<OverviewData>(`${dashboard.url}api/overview`)).status).toBe(200);
    const run = (await startFlow(db, 'role_flow', { n: 5 })).run_id;
    expect((await getJson<RunDetailData>(`${dashboard.url}api/runs/${run}`)).status).toBe(200);
    expect(await post(dashboard, 'cancel-run', { runId: run, reason: 'as admin' })).toEqual({ status: 200, body: { ok: true, result: { runId: run, status: 'cancelled' } } });
    expect(await db.query(`select cancel_reason from pgflow.runs where run_id = $1`, [run])).toEqual([{ cancel_reason: 'as admin' }]);
    expect(await post(dashboard, 'retry-run', { runId: run })).toEqual({ status: 200, body: { ok: true, result: { runId: run, status: 'started' } } });
    expect((await post(dashboard, 'pause-flow', { flowSlug: 'role_flow' })).status).toBe(200);
    expect(await db.query(`select paused_at is not null as paused from pgflow.flows where flow_slug = 'role_flow'`)).toEqual([{ paused: true }]);
    expect(await post(dashboard, 'resume-flow', { flowSlug: 'role_flow' })).toEqual({ status: 200, body: { ok: true, result: { flowSlug: 'role_flow', pausedAt: null } } });
    // The engine's refusal still comes through with its own words.
    expect(await post(dashboard, 'retry-run', { runId: run })).toEqual({
      status: 409,
      body: { error: `Retry run changed nothing: run ${run} is started; only a failed or cancelled run can be retried` },
    });
  });
});

describe('a dashboard whose role lacks the reader level', () => {
  it('answers 403 naming the statement that grants it, for a role without a level and for a client (which cannot see workers and queues)', async () => {
    const running = (await startFlow(db, 'role_flow', { n: 6 })).run_id;
    for (const level of ['none', 'client'] as const) {
      const login = await roleWith(level);
      const dashboard = await dashboardAs(login);
      const grant = `select pgflow.grant_reader('${login.name}');`;
      for (const path of ['overview', `runs/${running}`]) {
        const { status, body } = await getJson<{ error: string }>(`${dashboard.url}api/${path}`);
        expect({ level, path, status }).toEqual({ level, path, status: 403 });
        expect(body.error).toMatch(/^permission denied for /);
        expect(body.error).toContain(`role "${login.name}" cannot read what the dashboard shows. It needs pgflow's reader access level`);
        expect(body.error.endsWith(grant)).toBe(true);
      }
    }
  });
});

describe('pgflow-orm dashboard', () => {
  it('says at start-up why the actions it was asked to allow are unavailable to a reader', async () => {
    const reader = await roleWith('reader');
    const dashboard = startCli(['dashboard', '--port', '0', '--allow-actions'], { env: { DATABASE_URL: reader.urlFor(db.url) } });
    try {
      await dashboard.waitFor(/Ctrl-C stops it\n/);
      expect(dashboard.stdout()).toContain(
        `  actions unavailable: the dashboard's database role "${reader.name}" may not call pgflow.cancel_run(uuid, text): give it pgflow's admin access level with select pgflow.grant_admin('${reader.name}');\n`,
      );
    } finally {
      dashboard.child.kill('SIGINT');
    }
    // The whole result, so that a failure shows what the process printed.
    expect(await dashboard.exited).toMatchObject({ code: 0, signal: null });
  });

  it('refuses to start for a role without the reader level, saying how to grant it', async () => {
    const nobody = await roleWith('none');
    const result = await cli(['dashboard', '--port', '0'], { env: { DATABASE_URL: nobody.urlFor(db.url) } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`role "${nobody.name}" cannot read what the dashboard shows`);
    expect(result.stderr.trimEnd().endsWith(`select pgflow.grant_reader('${nobody.name}');`)).toBe(true);
  });
});
