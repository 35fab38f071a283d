/**
 * Run-control actions through the dashboard, calling the engine's real
 * functions: cancel a running run (with or without a reason), retry a
 * failed or cancelled run, pause and resume a flow. The engine's refusals
 * reach the browser with the engine's words: a run in the wrong state is a
 * 409, an unknown run or flow a 404. And the guard rails: actions are off by
 * default, need authorize(req) and a CSRF token that matches the page's
 * cookie, are refused from other sites, and check their input before
 * anything reaches the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionsData, FlowData } from '../../src/dashboard/api-types.js';
import { completeTask, defineFlow, failTask, getRun, startFlow, takeTask, uniqueSlug } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { POSTGRES_JS } from '../support/postgres-js.js';
import { getJson, getText, serveTestDashboard, type TestDashboard } from './support.js';

const db = useTestDatabase();
let locked: TestDashboard;
let open: TestDashboard;
let readOnly: TestDashboard;
/** Requests `authorize` was asked about, as `kind:action`. */
const asked: string[] = [];

/** Loads the page like a browser and returns its CSRF token and cookie. */
async function session(dashboard: TestDashboard): Promise<{ token: string; cookie: string }> {
  const page = await getText(dashboard.url);
  const config = JSON.parse(page.body.match(/<meta name="pgflow-dashboard" content="([^"]*)">/)![1]!.replace(/&#34;/g, '"')) as { csrfToken: string };
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
  return { token: config.csrfToken, cookie };
}

async function post(dashboard: TestDashboard, action: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(`${dashboard.url}api/actions/${action}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { error?: string; ok?: boolean; result?: unknown } };
}

/** A page's headers for `open`: its CSRF token and cookie. */
async function openSession(): Promise<Record<string, string>> {
  const { token, cookie } = await session(open);
  return { 'x-pgflow-csrf': token, cookie };
}

/** A flow of two steps (second after first); returns its slug. */
const twoSteps = (prefix: string) => defineFlow(db, uniqueSlug(prefix), { maxAttempts: 1, steps: ['first', { slug: 'second', deps: ['first'] }] });

const statusOf = async (runId: string) => (await getRun(db, runId)).status;

beforeAll(async () => {
  readOnly = await serveTestDashboard({ pool: db.pool });
  locked = await serveTestDashboard({
    pool: db.pool,
    allowActions: true,
    authorize: (req, access) => {
      asked.push(access.kind === 'action' ? `action:${access.action}` : 'view');
      return access.kind === 'view' || req.headers['x-role'] === 'admin';
    },
  });
  open = await serveTestDashboard({ pool: db.pool, allowActions: true, authorize: () => true });
});

afterAll(async () => {
  await Promise.all([readOnly?.close(), locked?.close(), open?.close()]);
});

describe('the actions the database offers', () => {
  it('are off by default: a POST is refused with 403 and changes nothing', async () => {
    const flow = await twoSteps('off');
    const run = (await startFlow(db, flow)).run_id;
    const { body } = await getJson<ActionsData>(`${readOnly.url}api/actions`);
    expect(body.enabled).toBe(false);
    const { token, cookie } = await session(readOnly);
    expect(await post(readOnly, 'cancel-run', { runId: run }, { 'x-pgflow-csrf': token, cookie })).toEqual({
      status: 403,
      body: { error: 'actions are turned off; create the dashboard with allowActions: true (and authorize) to offer them' },
    });
    expect(await statusOf(run)).toBe('started');
  });

  it('are the engine’s four run-control functions, each offered for the states it applies to', async () => {
    const { body } = await getJson<ActionsData>(`${open.url}api/actions`);
    expect(body).toEqual({
      enabled: true,
      actions: [
        { name: 'cancel-run', label: 'Cancel run', target: 'run', appliesTo: ['started'], sqlFunction: 'pgflow.cancel_run(uuid, text)', available: true, unavailableReason: null },
        { name: 'retry-run', label: 'Retry run', target: 'run', appliesTo: ['failed', 'cancelled'], sqlFunction: 'pgflow.retry_run(uuid)', available: true, unavailableReason: null },
        { name: 'pause-flow', label: 'Pause flow', target: 'flow', appliesTo: ['running'], sqlFunction: 'pgflow.pause_flow(text)', available: true, unavailableReason: null },
        { name: 'resume-flow', label: 'Resume flow', target: 'flow', appliesTo: ['paused'], sqlFunction: 'pgflow.resume_flow(text)', available: true, unavailableReason: null },
      ],
    });
    // Each signature is the function the engine has.
    const [row] = await db.query<{ found: string[] }>(`select array(select to_regprocedure(f)::text from unnest($1::text[]) f) as found`, [body.actions.map((action) => action.sqlFunction)]);
    expect(row!.found).toEqual(['pgflow.cancel_run(uuid,text)', 'pgflow.retry_run(uuid)', 'pgflow.pause_flow(text)', 'pgflow.resume_flow(text)']);
  });
});

describe('cancel-run', () => {
  it('cancels a running run with the reason given: its step states and tasks are cancelled and its message leaves the queue', async () => {
    const flow = await twoSteps('cancel');
    const run = (await startFlow(db, flow, { order: 7 })).run_id;
    const headers = await openSession();
    expect(await post(open, 'cancel-run', { runId: run.toUpperCase(), reason: '  the customer changed the order ' }, headers)).toEqual({
      status: 200,
      body: { ok: true, result: { runId: run, status: 'cancelled' } },
    });
    const [stored] = await db.query<{ status: string; cancel_reason: string; cancelled_at: Date | null }>(`select status, cancel_reason, cancelled_at from pgflow.runs where run_id = $1`, [run]);
    expect(stored).toMatchObject({ status: 'cancelled', cancel_reason: 'the customer changed the order' });
    expect(stored!.cancelled_at).toBeInstanceOf(Date);
    expect(await db.query(`select step_slug, status from pgflow.step_states where run_id = $1 order by step_slug`, [run])).toEqual([
      { step_slug: 'first', status: 'cancelled' },
      { step_slug: 'second', status: 'cancelled' },
    ]);
    expect(await db.query(`select step_slug, status from pgflow.step_tasks where run_id = $1`, [run])).toEqual([{ step_slug: 'first', status: 'cancelled' }]);
    expect(await db.query(`select msg_id from pgmq."q_${flow}"`)).toEqual([]);
  });

  it('takes no reason as well: cancel_reason stays NULL', async () => {
    const flow = await twoSteps('cancel_plain');
    const run = (await startFlow(db, flow)).run_id;
    expect((await post(open, 'cancel-run', { runId: run }, await openSession())).status).toBe(200);
    expect(await db.query(`select status, cancel_reason from pgflow.runs where run_id = $1`, [run])).toEqual([{ status: 'cancelled', cancel_reason: null }]);
  });

  it('passes on the engine’s refusal of a run that has finished (409) or does not exist (404), changing nothing', async () => {
    const flow = await twoSteps('cancel_done');
    const run = (await startFlow(db, flow)).run_id;
    for (const step of ['first', 'second']) {
      await takeTask(db, flow, run, step);
      await completeTask(db, run, step, { step });
    }
    const headers = await openSession();
    expect(await post(open, 'cancel-run', { runId: run, reason: 'too late' }, headers)).toEqual({
      status: 409,
      body: { error: `Cancel run changed nothing: run ${run} is already completed; nothing to cancel` },
    });
    expect(await db.query(`select status, cancel_reason from pgflow.runs where run_id = $1`, [run])).toEqual([{ status: 'completed', cancel_reason: null }]);
    const missing = '01900000-0000-7000-8000-000000000001';
    expect(await post(open, 'cancel-run', { runId: missing }, headers)).toEqual({ status: 404, body: { error: `Cancel run failed: run ${missing} does not exist` } });
  });

  it('says what the run’s state is when the connection cannot hand over the engine’s notice (postgres.js)', async () => {
    const flow = await twoSteps('cancel_pgjs');
    const run = (await startFlow(db, flow)).run_id;
    await db.query(`select pgflow.cancel_run($1::uuid)`, [run]);
    const sql = POSTGRES_JS[1]!.connect(db.url, { max: 2, onnotice: () => {} });
    const served = await serveTestDashboard({ db: sql, allowActions: true, authorize: () => true });
    try {
      const { token, cookie } = await session(served);
      expect(await post(served, 'cancel-run', { runId: run }, { 'x-pgflow-csrf': token, cookie })).toEqual({
        status: 409,
        body: { error: `Cancel run changed nothing: run ${run} is cancelled` },
      });
    } finally {
      await served.close();
      await sql.end();
    }
  });
});

describe('retry-run', () => {
  it('starts a failed run again, and the retried step runs to completion', async () => {
    const flow = await twoSteps('retry');
    const run = (await startFlow(db, flow)).run_id;
    await takeTask(db, flow, run, 'first');
    await failTask(db, run, 'first', 'HTTP 503');
    expect(await statusOf(run)).toBe('failed');
    expect(await post(open, 'retry-run', { runId: run }, await openSession())).toEqual({ status: 200, body: { ok: true, result: { runId: run, status: 'started' } } });
    expect(await db.query(`select step_slug, status, attempts_count, error_message from pgflow.step_tasks where run_id = $1`, [run])).toEqual([
      { step_slug: 'first', status: 'queued', attempts_count: 0, error_message: null },
    ]);
    for (const step of ['first', 'second']) {
      await takeTask(db, flow, run, step);
      await completeTask(db, run, step, { step });
    }
    expect(await getRun(db, run)).toMatchObject({ status: 'completed', output: { second: { step: 'second' } } });
  });

  it('starts a cancelled run again', async () => {
    const flow = await twoSteps('retry_cancelled');
    const run = (await startFlow(db, flow)).run_id;
    const headers = await openSession();
    expect((await post(open, 'cancel-run', { runId: run }, headers)).status).toBe(200);
    expect(await post(open, 'retry-run', { runId: run }, headers)).toEqual({ status: 200, body: { ok: true, result: { runId: run, status: 'started' } } });
    expect(await db.query(`select status, cancelled_at from pgflow.runs where run_id = $1`, [run])).toEqual([{ status: 'started', cancelled_at: null }]);
  });

  it('passes on the engine’s refusal of a run that is not failed or cancelled (409)', async () => {
    const flow = await twoSteps('retry_running');
    const run = (await startFlow(db, flow)).run_id;
    expect(await post(open, 'retry-run', { runId: run }, await openSession())).toEqual({
      status: 409,
      body: { error: `Retry run changed nothing: run ${run} is started; only a failed or cancelled run can be retried` },
    });
    expect(await statusOf(run)).toBe('started');
  });
});

describe('pause-flow and resume-flow', () => {
  it('pause a flow, so workers take none of its tasks, and resume it; the flow view shows when it was paused', async () => {
    const flow = await twoSteps('paused');
    const run = (await startFlow(db, flow)).run_id;
    const headers = await openSession();
    const paused = await post(open, 'pause-flow', { flowSlug: flow }, headers);
    const [row] = await db.query<{ paused_at: Date | null }>(`select paused_at from pgflow.flows where flow_slug = $1`, [flow]);
    expect(row!.paused_at).toBeInstanceOf(Date);
    expect(paused).toEqual({ status: 200, body: { ok: true, result: { flowSlug: flow, pausedAt: row!.paused_at!.toISOString() } } });
    expect((await getJson<FlowData>(`${open.url}api/flows/${flow}`)).body.flow.pausedAt).toBe(row!.paused_at!.toISOString());
    expect(await db.query(`select * from pgflow.claim_tasks($1, gen_random_uuid(), 10)`, [flow])).toEqual([]);

    expect(await post(open, 'resume-flow', { flowSlug: flow }, headers)).toEqual({ status: 200, body: { ok: true, result: { flowSlug: flow, pausedAt: null } } });
    expect((await getJson<FlowData>(`${open.url}api/flows/${flow}`)).body.flow.pausedAt).toBeNull();
    expect(await db.query(`select run_id, step_slug from pgflow.claim_tasks($1, gen_random_uuid(), 10)`, [flow])).toEqual([{ run_id: run, step_slug: 'first' }]);
  });

  it('answer 404 with the engine’s message for a flow that does not exist', async () => {
    expect(await post(open, 'pause-flow', { flowSlug: 'no_such_flow' }, await openSession())).toEqual({
      status: 404,
      body: { error: 'Pause flow failed: flow "no_such_flow" does not exist' },
    });
  });
});

describe('guard rails', () => {
  it('need authorize(req) to allow the action: 403 otherwise, and the run is left alone', async () => {
    const flow = await twoSteps('authorize');
    const run = (await startFlow(db, flow)).run_id;
    const { token, cookie } = await session(locked);
    asked.length = 0;
    expect(await post(locked, 'cancel-run', { runId: run }, { 'x-pgflow-csrf': token, cookie })).toEqual({
      status: 403,
      body: { error: 'you may not run the action "cancel-run" here' },
    });
    expect(asked).toEqual(['action:cancel-run']);
    expect(await statusOf(run)).toBe('started');
    // The same request from an admin passes authorize and cancels the run.
    expect(await post(locked, 'cancel-run', { runId: run }, { 'x-pgflow-csrf': token, cookie, 'x-role': 'admin' })).toEqual({
      status: 200,
      body: { ok: true, result: { runId: run, status: 'cancelled' } },
    });
  });

  it('need the CSRF token of the page in the header, equal to the cookie; nothing reaches the engine without it', async () => {
    const flow = await twoSteps('csrf');
    const runId = (await startFlow(db, flow)).run_id;
    const { token, cookie } = await session(open);
    const other = await session(open);
    const refusal = { status: 403, body: { error: 'missing or invalid CSRF token: reload the dashboard and try again' } };
    expect(await post(open, 'cancel-run', { runId }, { cookie })).toEqual(refusal);
    expect(await post(open, 'cancel-run', { runId }, { 'x-pgflow-csrf': token })).toEqual(refusal);
    expect(await post(open, 'cancel-run', { runId }, { 'x-pgflow-csrf': other.token, cookie })).toEqual(refusal);
    const [nonce] = token.split('.');
    const forged = `${nonce}.${'A'.repeat(43)}`;
    expect(await post(open, 'cancel-run', { runId }, { 'x-pgflow-csrf': forged, cookie: `pgflow_dashboard_csrf=${forged}` })).toEqual(refusal);
    // A token issued by another dashboard (another secret) is not accepted either.
    const foreign = await session(locked);
    expect(await post(open, 'cancel-run', { runId }, { 'x-pgflow-csrf': foreign.token, cookie: foreign.cookie })).toEqual(refusal);
    // Requests from another site are refused before anything else.
    expect(await post(open, 'cancel-run', { runId }, { 'x-pgflow-csrf': token, cookie, 'sec-fetch-site': 'cross-site' })).toEqual({
      status: 403,
      body: { error: 'actions are accepted only from the dashboard itself' },
    });
    expect(await statusOf(runId)).toBe('started');
    // A page load keeps a valid cookie's token, so several tabs share it.
    const again = await getText(open.url, { headers: { cookie } });
    expect(again.body).toContain(JSON.stringify(token).replace(/"/g, '&#34;'));
  });

  it('check their input before calling the engine', async () => {
    const flow = await twoSteps('input');
    const runId = (await startFlow(db, flow)).run_id;
    const headers = await openSession();
    expect(await post(open, 'cancel-run', { flowSlug: flow }, headers)).toEqual({ status: 400, body: { error: 'cancel-run needs {"runId": "<run id>"} as its JSON body' } });
    expect(await post(open, 'cancel-run', { runId: 'x' }, headers)).toEqual({ status: 400, body: { error: '"x" is not a run id' } });
    expect(await post(open, 'cancel-run', { runId, reason: 42 }, headers)).toEqual({ status: 400, body: { error: 'the reason must be a string' } });
    expect(await post(open, 'cancel-run', { runId, reason: 'x'.repeat(1001) }, headers)).toEqual({
      status: 400,
      body: { error: 'the reason is 1001 characters long; at most 1000 are accepted' },
    });
    expect(await post(open, 'retry-run', { runId, reason: 'again' }, headers)).toEqual({ status: 400, body: { error: 'retry-run takes no reason' } });
    expect(await post(open, 'pause-flow', { runId }, headers)).toEqual({ status: 400, body: { error: 'pause-flow needs {"flowSlug": "<flow slug>"} as its JSON body' } });
    expect(await post(open, 'explode', { runId }, headers)).toMatchObject({ status: 404 });
    const textBody = await fetch(`${open.url}api/actions/cancel-run`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'x' });
    expect(textBody.status).toBe(415);
    expect(await statusOf(runId)).toBe('started');
  });

  it('ask authorize(req) about every page too, so it can keep the dashboard private', async () => {
    const privateDashboard = await serveTestDashboard({ pool: db.pool, authorize: (req) => req.headers.authorization === 'Bearer secret' });
    try {
      expect((await getText(privateDashboard.url)).status).toBe(403);
      expect((await getJson(`${privateDashboard.url}api/runs`)).status).toBe(403);
      expect((await getText(privateDashboard.url, { headers: { authorization: 'Bearer secret' } })).status).toBe(200);
    } finally {
      await privateDashboard.close();
    }
  });
});
