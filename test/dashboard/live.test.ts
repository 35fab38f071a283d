/**
 * Live updates over Server-Sent Events, driven by the engine's real
 * notifications: a run view receives the run's events and fresh data after
 * each change (bench/dashboard.ts measures how soon), including a skipped
 * step, a cancel and a retry; the runs list and the overview follow new,
 * cancelled and retried runs; the flow view and the overview follow a flow
 * being paused and resumed; a view that cannot be read says so; LISTEN works
 * over a pool, a connection string and postgres.js (3 and 4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowData, LiveEvent, OverviewData, RunDetailData, RunsListData } from '../../src/dashboard/api-types.js';
import { completeTask, defineFlow, startFlow, takeTask } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { POSTGRES_JS } from '../support/postgres-js.js';
import { openSse, serveTestDashboard, type SseMessage, type SseReader, type TestDashboard } from './support.js';

const db = useTestDatabase();
let dashboard: TestDashboard;
const readers: SseReader[] = [];

async function live(query: string, served = dashboard): Promise<SseReader> {
  const reader = await openSse(`${served.url}api/live?${query}`);
  readers.push(reader);
  return reader;
}

const isUpdate = (check: (data: never) => boolean) => (message: SseMessage) => message.event === 'update' && check(message.data as never);
const isEvent = (type: string) => (message: SseMessage) => message.event === 'event' && (message.data as LiveEvent).type === type;

beforeAll(async () => {
  await defineFlow(db, 'live_flow', { steps: ['first', { slug: 'second', deps: ['first'] }] });
  await defineFlow(db, 'live_gated', { steps: ['classify', { slug: 'review', deps: ['classify'], if: { classify: { risk: 'high' } } }, { slug: 'ship', deps: ['classify', 'review'] }] });
  await defineFlow(db, 'live_control', { steps: ['only'] });
  dashboard = await serveTestDashboard({ pool: db.pool });
});

afterAll(async () => {
  for (const reader of readers) reader.close();
  await dashboard?.close();
});

describe('live views', () => {
  it('pushes a run view its events and fresh data after each change', async () => {
    const run = await startFlow(db, 'live_flow', { n: 1 });
    const stream = await live(`view=run&run=${run.run_id}`);
    const initial = await stream.next(isUpdate((data: RunDetailData) => data.run.runId === run.run_id));
    expect((initial.data as RunDetailData).steps.map((step) => step.status)).toEqual(['started', 'created']);

    const from = stream.messages.length;
    await takeTask(db, 'live_flow', run.run_id, 'first');
    await completeTask(db, run.run_id, 'first', { ok: 1 });
    const event = await stream.next((message) => message.event === 'event' && (message.data as LiveEvent).type === 'step:completed', { from, timeoutMs: 3000 });
    expect(event.data).toMatchObject({ type: 'step:completed', flowSlug: 'live_flow', runId: run.run_id, stepSlug: 'first', status: 'completed' });
    await stream.next(
      isUpdate((data: RunDetailData) => data.steps.find((step) => step.slug === 'first')?.status === 'completed' && data.steps.find((step) => step.slug === 'second')?.status === 'started'),
      { from, timeoutMs: 3000 },
    );

    const end = stream.messages.length;
    await takeTask(db, 'live_flow', run.run_id, 'second');
    await completeTask(db, run.run_id, 'second', { ok: 2 });
    const done = await stream.next(isUpdate((data: RunDetailData) => data.run.status === 'completed'), { from: end, timeoutMs: 3000 });
    expect(JSON.parse((done.data as RunDetailData).run.output!.text)).toEqual({ second: { ok: 2 } });
    expect(
      stream.messages
        .slice(end)
        .filter((message) => message.event === 'event')
        .map((message) => (message.data as LiveEvent).type),
    ).toEqual(['step:started', 'step:completed', 'run:completed']);
  });

  it('updates the runs list and the overview when runs start, for every viewer', async () => {
    const list = await live('view=runs&flow=live_flow');
    const again = await live('view=runs&flow=live_flow');
    const overview = await live('view=overview&window=hour');
    const before = (await list.next(isUpdate(() => true))).data as RunsListData;
    await again.next(isUpdate(() => true));
    const firstOverview = (await overview.next(isUpdate(() => true))).data as OverviewData;
    const running = firstOverview.flows.find((flow) => flow.slug === 'live_flow')!.running;

    const run = await startFlow(db, 'live_flow', { n: 2 });
    for (const reader of [list, again]) {
      const update = await reader.next(isUpdate((data: RunsListData) => data.runs[0]?.runId === run.run_id), { timeoutMs: 3000 });
      expect((update.data as RunsListData).runs.length).toBe(before.runs.length + 1);
    }
    await overview.next(isUpdate((data: OverviewData) => data.flows.find((flow) => flow.slug === 'live_flow')?.running === running + 1), { timeoutMs: 3000 });
  });

  it('relays a skipped step with its reason, and shows it skipped', async () => {
    const run = await startFlow(db, 'live_gated', { order: 1 });
    const stream = await live(`view=run&run=${run.run_id}`);
    await stream.next(isUpdate((data: RunDetailData) => data.run.runId === run.run_id));
    const from = stream.messages.length;
    await takeTask(db, 'live_gated', run.run_id, 'classify');
    await completeTask(db, run.run_id, 'classify', { risk: 'low' });
    const skipped = await stream.next(isEvent('step:skipped'), { from });
    expect(skipped.data).toMatchObject({ type: 'step:skipped', runId: run.run_id, stepSlug: 'review', status: 'skipped', skipReason: 'condition_unmet' });
    await stream.next(
      isUpdate((data: RunDetailData) => data.steps.some((step) => step.slug === 'review' && step.status === 'skipped' && step.skipReason === 'condition_unmet')),
      { from },
    );
  });

  it('follows a run that is cancelled and retried: its view, and a runs list that has no timer of its own', async () => {
    const run = await startFlow(db, 'live_control', { n: 1 });
    const stream = await live(`view=run&run=${run.run_id}`);
    const running = await live('view=runs&flow=live_control&status=started');
    const cancelled = await live('view=runs&flow=live_control&status=cancelled');
    await stream.next(isUpdate((data: RunDetailData) => data.run.status === 'started'));
    await running.next(isUpdate((data: RunsListData) => data.runs.some((listed) => listed.runId === run.run_id)));
    await cancelled.next(isUpdate((data: RunsListData) => data.runs.length === 0));

    let from = stream.messages.length;
    await db.query(`select pgflow.cancel_run($1::uuid, 'wrong address')`, [run.run_id]);
    const event = await stream.next(isEvent('run:cancelled'), { from });
    expect(event.data).toMatchObject({ type: 'run:cancelled', flowSlug: 'live_control', runId: run.run_id, status: 'cancelled', reason: 'wrong address', stepSlug: null });
    const update = await stream.next(isUpdate((data: RunDetailData) => data.run.status === 'cancelled'), { from });
    expect((update.data as RunDetailData).run).toMatchObject({ cancelReason: 'wrong address', cancelledAt: expect.any(String) });
    expect((update.data as RunDetailData).steps.map((step) => step.status)).toEqual(['cancelled']);
    await running.next(isUpdate((data: RunsListData) => data.runs.length === 0));
    await cancelled.next(isUpdate((data: RunsListData) => data.runs[0]?.runId === run.run_id));

    from = stream.messages.length;
    await db.query(`select pgflow.retry_run($1::uuid)`, [run.run_id]);
    expect((await stream.next(isEvent('run:retried'), { from })).data).toMatchObject({ runId: run.run_id, status: 'started' });
    await stream.next(isUpdate((data: RunDetailData) => data.run.status === 'started' && data.run.cancelledAt === null), { from });
    await running.next(isUpdate((data: RunsListData) => data.runs[0]?.runId === run.run_id));
  });

  it('follows a flow being paused and resumed on its flow view and the overview', async () => {
    const flowView = await live('view=flow&flow=live_control');
    const overview = await live('view=overview&window=hour');
    await flowView.next(isUpdate((data: FlowData) => data.flow.pausedAt === null));
    await overview.next(isUpdate((data: OverviewData) => data.flows.some((flow) => flow.slug === 'live_control' && flow.pausedAt === null)));
    await db.query(`select pgflow.pause_flow('live_control')`);
    const [row] = await db.query<{ paused_at: Date }>(`select paused_at from pgflow.flows where flow_slug = 'live_control'`);
    await flowView.next(isUpdate((data: FlowData) => data.flow.pausedAt === row!.paused_at.toISOString()));
    await overview.next(isUpdate((data: OverviewData) => data.flows.some((flow) => flow.slug === 'live_control' && flow.pausedAt === row!.paused_at.toISOString())));
    await db.query(`select pgflow.resume_flow('live_control')`);
    await flowView.next(isUpdate((data: FlowData) => data.flow.pausedAt === null), { from: flowView.messages.length });
  });

  it('says when a view cannot be read, and refuses a malformed view with 400', async () => {
    const missing = await live('view=run&run=00000000-0000-7000-8000-000000000000');
    expect((await missing.next((message) => message.event === 'problem')).data).toEqual({ status: 404, error: 'there is no run 00000000-0000-7000-8000-000000000000' });
    const response = await fetch(`${dashboard.url}api/live?view=everything`);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'view must be overview, flow, runs or run (got "everything")' });
  });

  it('listens through a connection string and through postgres.js 3 and 4 as well', async () => {
    const clients = POSTGRES_JS.map((version) => version.connect(db.url, { max: 2 }));
    try {
      for (const options of [{ connectionString: db.url }, ...clients.map((sql) => ({ db: sql }))]) {
        const served = await serveTestDashboard(options);
        try {
          const stream = await live('view=runs&flow=live_flow', served);
          await stream.next(isUpdate(() => true));
          const run = await startFlow(db, 'live_flow', { via: Object.keys(options)[0] });
          await stream.next(isUpdate((data: RunsListData) => data.runs[0]?.runId === run.run_id), { timeoutMs: 3000 });
          stream.close();
        } finally {
          await served.close();
        }
      }
    } finally {
      await Promise.all(clients.map((sql) => sql.end()));
    }
  });
});
