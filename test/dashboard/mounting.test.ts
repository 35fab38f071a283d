/**
 * The dashboard mounted in apps, as the examples in examples/dashboard/ do
 * it: in Express, in Fastify, and served on its own with node:http
 * (serveDashboard, what the CLI runs). Through each: the page under the
 * mount path, the JSON API, a live stream that follows a new run, and action
 * POSTs whose body reaches the dashboard (pausing and resuming a flow).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp as createExpressApp } from '../../examples/dashboard/src/express.js';
import { createApp as createFastifyApp } from '../../examples/dashboard/src/fastify.js';
import type { FlowData, RunsListData } from '../../src/dashboard/api-types.js';
import { serveDashboard } from '../../src/dashboard/index.js';
import { defineFlow, startFlow } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { getJson, getText, openSse } from './support.js';

const db = useTestDatabase();

interface Mounted {
  /** The dashboard's URL, ending in "/". */
  url: string;
  close(): Promise<void>;
}

const actions = { allowActions: true, authorize: () => true } as const;

const apps: Record<string, () => Promise<Mounted>> = {
  async Express() {
    const { app, dashboard } = createExpressApp(db.pool, actions);
    const server = await new Promise<Server>((resolve) => {
      const listening: Server = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/pgflow/`,
      async close() {
        const closed = new Promise((resolve) => server.close(resolve));
        await dashboard.close();
        server.closeAllConnections();
        await closed;
      },
    };
  },
  async Fastify() {
    const app = createFastifyApp(db.pool, actions);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/admin/pgflow/`,
      async close() {
        const closing = app.close();
        app.server.closeAllConnections();
        await closing;
      },
    };
  },
  async 'node:http (serveDashboard)'() {
    const served = await serveDashboard({ pool: db.pool, port: 0, ...actions });
    return { url: served.url, close: () => served.close() };
  },
};

beforeAll(async () => {
  await defineFlow(db, 'mounted', { steps: ['only'] });
});

describe.each(Object.keys(apps))('the dashboard in %s', (name) => {
  let mounted: Mounted;
  beforeAll(async () => {
    mounted = await apps[name]!();
  });
  afterAll(async () => {
    await mounted?.close();
  });

  it('serves its page under the mount path and its JSON API', async () => {
    const page = await getText(mounted.url);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`<base href="${new URL(mounted.url).pathname}">`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const script = page.body.match(/src="\.\/(assets\/[^"]+\.js)"/)![1]!;
    expect((await getText(`${mounted.url}${script}`)).status).toBe(200);
    expect((await getJson<FlowData>(`${mounted.url}api/flows/mounted`)).body.flow.steps.map((step) => step.slug)).toEqual(['only']);
    expect((await getText(`${mounted.url}runs/${'0'.repeat(8)}`)).status).toBe(404);
  });

  it('streams live updates through the app', async () => {
    const stream = await openSse(`${mounted.url}api/live?view=runs&flow=mounted`);
    try {
      await stream.next((message) => message.event === 'update');
      const run = await startFlow(db, 'mounted', { app: name });
      await stream.next((message) => message.event === 'update' && (message.data as RunsListData).runs[0]?.runId === run.run_id, { timeoutMs: 3000 });
    } finally {
      stream.close();
    }
  });

  it("passes an action's JSON body to the dashboard, which runs it", async () => {
    const page = await getText(mounted.url);
    const token = (JSON.parse(page.body.match(/<meta name="pgflow-dashboard" content="([^"]*)">/)![1]!.replace(/&#34;/g, '"')) as { csrfToken: string }).csrfToken;
    const action = (name: string) =>
      fetch(`${mounted.url}api/actions/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-pgflow-csrf': token, cookie: page.headers.get('set-cookie')!.split(';')[0]! },
        body: JSON.stringify({ flowSlug: 'mounted' }),
      });
    // The body was read (a missing one is a 400) and named the flow that was paused.
    const paused = await action('pause-flow');
    expect(paused.status).toBe(200);
    const [row] = await db.query<{ paused_at: Date }>(`select paused_at from pgflow.flows where flow_slug = 'mounted'`);
    expect(await paused.json()).toEqual({ ok: true, result: { flowSlug: 'mounted', pausedAt: row!.paused_at.toISOString() } });
    expect((await action('resume-flow')).status).toBe(200);
    expect(await db.query(`select paused_at from pgflow.flows where flow_slug = 'mounted'`)).toEqual([{ paused_at: null }]);
  });
});
