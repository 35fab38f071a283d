/**
 * The dashboard on a database whose pgflow is an earlier release (0.3.0,
 * installed with the package's own migrations, as an app that has not
 * upgraded yet has it): it has map steps and conditions but no run control,
 * so the pages read what is there (no cancellations, no pauses) and the
 * actions are listed as unavailable, saying why, and refused with 409. Once
 * the database is upgraded, the same dashboard offers them.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionsData, FlowData, OverviewData, RunDetailData, RunsListData } from '../../src/dashboard/api-types.js';
import { toExecutor } from '../../src/core/connection.js';
import { applyBundledMigrations } from '../../src/migrations/apply.js';
import { readMigrations, versionSetBy } from '../../src/migrations/index.js';
import { completeTask, defineFlow, getRun, startFlow, takeTask } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { getJson, getText, serveTestDashboard, type TestDashboard } from './support.js';

const OLDER = '0.3.0';
const db = useTestDatabase({ migrated: false });
let dashboard: TestDashboard;
let runId: string;

/** The package's migrations up to and including the one that makes pgflow.version() say `version`. */
function historyUpTo(version: string) {
  const migrations = readMigrations();
  const last = migrations.findIndex((migration) => versionSetBy(migration) === version);
  if (last < 0) throw new Error(`no bundled migration installs pgflow ${version}`);
  return { installed: migrations.slice(0, last + 1), rest: migrations.slice(last + 1) };
}

async function migrate(migrations: ReturnType<typeof readMigrations>): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await applyBundledMigrations(toExecutor(client), { migrations });
  } finally {
    await client.end();
  }
}

async function post(action: string, body: unknown) {
  const page = await getText(dashboard.url);
  const token = (JSON.parse(page.body.match(/<meta name="pgflow-dashboard" content="([^"]*)">/)![1]!.replace(/&#34;/g, '"')) as { csrfToken: string }).csrfToken;
  const response = await fetch(`${dashboard.url}api/actions/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-pgflow-csrf': token, cookie: page.headers.get('set-cookie')!.split(';')[0]! },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  await migrate(historyUpTo(OLDER).installed);
  await defineFlow(db, 'legacy', { steps: ['check', { slug: 'optional', deps: ['check'], if: { check: { ok: false } } }, { slug: 'last', deps: ['check'] }] });
  runId = (await startFlow(db, 'legacy', { n: 1 })).run_id;
  await takeTask(db, 'legacy', runId, 'check');
  await completeTask(db, runId, 'check', { ok: true });
  dashboard = await serveTestDashboard({ pool: db.pool, allowActions: true, authorize: () => true });
});

afterAll(async () => {
  await dashboard?.close();
});

describe(`a database with pgflow ${OLDER}`, () => {
  it('has no run-control functions: the actions are listed as unavailable, each saying why', async () => {
    expect(await db.query(`select pgflow.version() as version, to_regprocedure('pgflow.cancel_run(uuid, text)') as cancel`)).toEqual([{ version: OLDER, cancel: null }]);
    const { body } = await getJson<ActionsData>(`${dashboard.url}api/actions`);
    const supported = (await getJson<OverviewData>(`${dashboard.url}api/overview`)).body.pgflow.supported;
    expect(body.enabled).toBe(true);
    expect(body.actions.map((action) => [action.name, action.available, action.unavailableReason])).toEqual([
      ['cancel-run', false, `pgflow.cancel_run(uuid, text) does not exist in this database (it has pgflow ${OLDER}): upgrade pgflow to ${supported} to offer "Cancel run"`],
      ['retry-run', false, `pgflow.retry_run(uuid) does not exist in this database (it has pgflow ${OLDER}): upgrade pgflow to ${supported} to offer "Retry run"`],
      ['pause-flow', false, `pgflow.pause_flow(text) does not exist in this database (it has pgflow ${OLDER}): upgrade pgflow to ${supported} to offer "Pause flow"`],
      ['resume-flow', false, `pgflow.resume_flow(text) does not exist in this database (it has pgflow ${OLDER}): upgrade pgflow to ${supported} to offer "Resume flow"`],
    ]);
  });

  it('refuses an action with 409 and the same reason, and the run goes on', async () => {
    const { body } = await getJson<ActionsData>(`${dashboard.url}api/actions`);
    expect(await post('cancel-run', { runId })).toEqual({ status: 409, body: { error: body.actions[0]!.unavailableReason } });
    expect(await post('pause-flow', { flowSlug: 'legacy' })).toEqual({ status: 409, body: { error: body.actions[2]!.unavailableReason } });
    expect((await getRun(db, runId)).status).toBe('started');
  });

  it('still shows every page, with the columns this release has (a skipped step) and none it lacks (cancellation, pauses)', async () => {
    const overview = (await getJson<OverviewData>(`${dashboard.url}api/overview`)).body;
    expect(overview.pgflow.installed).toBe(OLDER);
    expect(overview.flows).toMatchObject([{ slug: 'legacy', running: 1, pausedAt: null, windowCounts: { started: 1 } }]);
    const flow = (await getJson<FlowData>(`${dashboard.url}api/flows/legacy?run=${runId}`)).body;
    expect(flow.flow.pausedAt).toBeNull();
    expect(flow.flow.steps.find((step) => step.slug === 'optional')!.condition).toEqual({
      requiredInputPattern: { check: { ok: false } },
      forbiddenInputPattern: null,
      whenUnmet: 'skip',
      whenExhausted: 'fail',
    });
    expect(flow.selectedRun!.steps.find((step) => step.slug === 'optional')).toMatchObject({ status: 'skipped', skipReason: 'condition_unmet' });
    const runs = (await getJson<RunsListData>(`${dashboard.url}api/runs?status=started`)).body;
    expect(runs.runs).toMatchObject([{ runId, status: 'started', cancelledAt: null }]);
    const run = await getJson<RunDetailData>(`${dashboard.url}api/runs/${runId}`);
    expect(run.status).toBe(200);
    expect(run.body.run).toMatchObject({ status: 'started', cancelledAt: null, cancelReason: null });
    expect(Object.fromEntries(run.body.steps.map((step) => [step.slug, [step.status, step.skipReason, step.cancelledAt]]))).toEqual({
      check: ['completed', null, null],
      optional: ['skipped', 'condition_unmet', null],
      last: ['started', null, null],
    });
    expect(run.body.tasks.map((task) => [task.stepSlug, task.status, task.cancelledAt])).toEqual([
      ['check', 'completed', null],
      ['last', 'queued', null],
    ]);
  });

  it('offers the actions once the database is upgraded, without restarting the dashboard', async () => {
    await migrate(historyUpTo(OLDER).installed.concat(historyUpTo(OLDER).rest));
    const { body } = await getJson<ActionsData>(`${dashboard.url}api/actions`);
    expect(body.actions.map((action) => [action.name, action.available])).toEqual([
      ['cancel-run', true],
      ['retry-run', true],
      ['pause-flow', true],
      ['resume-flow', true],
    ]);
    // The run started before the upgrade can be cancelled now.
    expect(await post('cancel-run', { runId, reason: 'upgraded' })).toEqual({ status: 200, body: { ok: true, result: { runId, status: 'cancelled' } } });
  });
});
