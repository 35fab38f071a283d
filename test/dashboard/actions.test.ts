/**
 * Run-control actions and their guard rails, against a database whose
 * pgflow has no run-control functions yet: actions are off by default,
 * need authorize(req) and a CSRF token that matches the page's cookie, are
 * refused from other sites, and are offered only when their SQL function
 * exists. A stand-in pgflow.cancel_run created in this test's own database
 * shows an offered action reaching the database with its target.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionsData } from '../../src/dashboard/api-types.js';
import { defineFlow, startFlow } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { getJson, getText, serveTestDashboard, type TestDashboard } from './support.js';

const db = useTestDatabase();
let locked: TestDashboard;
let open: TestDashboard;
let readOnly: TestDashboard;
let runId: string;
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

beforeAll(async () => {
  await defineFlow(db, 'controlled', { steps: ['only'] });
  runId = (await startFlow(db, 'controlled', {})).run_id;
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

describe('actions', () => {
  it('are off by default: no action is offered and a POST is refused with 403', async () => {
    const { body } = await getJson<ActionsData>(`${readOnly.url}api/actions`);
    expect(body.enabled).toBe(false);
    const { token, cookie } = await session(readOnly);
    expect(await post(readOnly, 'cancel-run', { runId }, { 'x-pgflow-csrf': token, cookie })).toEqual({
      status: 403,
      body: { error: 'actions are turned off; create the dashboard with allowActions: true (and authorize) to offer them' },
    });
  });

  it('are listed, but not offered, while the database has none of their functions', async () => {
    const { body } = await getJson<ActionsData>(`${open.url}api/actions`);
    expect(body).toEqual({
      enabled: true,
      actions: [
        { name: 'cancel-run', label: 'Cancel run', target: 'run', sqlFunction: 'pgflow.cancel_run(uuid)', available: false },
        { name: 'retry-run', label: 'Retry run', target: 'run', sqlFunction: 'pgflow.retry_run(uuid)', available: false },
        { name: 'pause-flow', label: 'Pause flow', target: 'flow', sqlFunction: 'pgflow.pause_flow(text)', available: false },
        { name: 'resume-flow', label: 'Resume flow', target: 'flow', sqlFunction: 'pgflow.resume_flow(text)', available: false },
      ],
    });
    const { token, cookie } = await session(open);
    expect(await post(open, 'cancel-run', { runId }, { 'x-pgflow-csrf': token, cookie })).toEqual({
      status: 409,
      body: { error: 'pgflow.cancel_run(uuid) does not exist in this database: "Cancel run" becomes available once the installed pgflow version has it' },
    });
  });

  it('need authorize(req) to allow the action: 403 otherwise', async () => {
    const { token, cookie } = await session(locked);
    asked.length = 0;
    expect(await post(locked, 'cancel-run', { runId }, { 'x-pgflow-csrf': token, cookie })).toEqual({
      status: 403,
      body: { error: 'you may not run the action "cancel-run" here' },
    });
    expect(asked).toEqual(['action:cancel-run']);
    // The same request from an admin passes authorize and reaches the database check.
    expect((await post(locked, 'cancel-run', { runId }, { 'x-pgflow-csrf': token, cookie, 'x-role': 'admin' })).status).toBe(409);
  });

  it('need the CSRF token of the page in the header, equal to the cookie', async () => {
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
    // A page load keeps a valid cookie's token, so several tabs share it.
    const again = await getText(open.url, { headers: { cookie } });
    expect(again.body).toContain(JSON.stringify(token).replace(/"/g, '&#34;'));
  });

  it('check their input and are offered once the database has the function', async () => {
    const { token, cookie } = await session(open);
    const headers = { 'x-pgflow-csrf': token, cookie };
    expect(await post(open, 'cancel-run', { flowSlug: 'controlled' }, headers)).toEqual({ status: 400, body: { error: 'cancel-run needs {"runId": "<run id>"} as its JSON body' } });
    expect(await post(open, 'cancel-run', { runId: 'x' }, headers)).toEqual({ status: 400, body: { error: '"x" is not a run id' } });
    expect(await post(open, 'explode', { runId }, headers)).toMatchObject({ status: 404 });
    const textBody = await fetch(`${open.url}api/actions/cancel-run`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'x' });
    expect(textBody.status).toBe(415);

    // A stand-in for the engine's future cancel_run, in this test's own database.
    await db.query(`create table public.cancel_calls (run_id uuid)`);
    await db.query(
      `create function pgflow.cancel_run(run_id uuid) returns text language sql as $$ insert into public.cancel_calls values (run_id); select 'cancelled ' || run_id::text $$`,
    );
    const { body } = await getJson<ActionsData>(`${open.url}api/actions`);
    expect(body.actions.filter((action) => action.available).map((action) => action.name)).toEqual(['cancel-run']);
    expect(await post(open, 'cancel-run', { runId }, headers)).toEqual({ status: 200, body: { ok: true, result: `cancelled ${runId}` } });
    expect(await db.query(`select run_id from public.cancel_calls`)).toEqual([{ run_id: runId }]);
    // The engine's refusal is passed on.
    await db.query(`create or replace function pgflow.cancel_run(run_id uuid) returns text language plpgsql as $$ begin raise exception 'run % has already completed', run_id; end $$`);
    expect(await post(open, 'cancel-run', { runId }, headers)).toEqual({ status: 409, body: { error: `Cancel run failed: run ${runId} has already completed` } });
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
