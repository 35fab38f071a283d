/**
 * `pgflow-orm dashboard` and `pgflow-orm demo --dashboard` as child
 * processes: each serves the dashboard on 127.0.0.1, prints its URL, answers
 * over HTTP, and exits cleanly on SIGINT; the dashboard command refuses a
 * database without pgflow and a port in use with one line each.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { OverviewData } from '../../src/dashboard/api-types.js';
import { DEMO_FLOW_SLUG } from '../../src/demo/flow.js';
import { useTestDatabase } from '../support/database.js';
import { cli, startCli } from './support.js';

const db = useTestDatabase();
const empty = useTestDatabase({ migrated: false });

const urlIn = (output: string, pattern: RegExp) => output.match(pattern)?.[1] ?? '';

describe('pgflow-orm dashboard', () => {
  it('documents its options in --help', async () => {
    const [dashboard, demo] = await Promise.all([cli(['dashboard', '--help']), cli(['demo', '--help'])]);
    expect(dashboard.code).toBe(0);
    for (const mention of [/^Usage: pgflow-orm dashboard /, /--database-url/, /--port/, /default: 4000/, /--host/, /default: "127\.0\.0\.1"/, /--allow-actions/, /no login of its own/]) {
      expect(dashboard.stdout).toMatch(mention);
    }
    expect(demo.stdout).toMatch(/--dashboard /);
    expect(demo.stdout).toMatch(/--dashboard-port <n>/);
  });

  it('serves the dashboard on 127.0.0.1, prints its URL and stops on SIGINT', async () => {
    await db.query(`select pgflow.create_flow('cli_dashboard')`);
    const dashboard = startCli(['dashboard', '--port', '0', '--allow-actions'], { env: { DATABASE_URL: db.url } });
    try {
      await dashboard.waitFor(/Ctrl-C stops it\n/);
      expect(dashboard.stdout()).toMatch(/^pgflow dashboard: http:\/\/127\.0\.0\.1:\d+\/\n/);
      const url = urlIn(dashboard.stdout(), /pgflow dashboard: (\S+)/);
      expect(dashboard.stdout()).toContain('; actions allowed from this machine');
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('&#34;actionsEnabled&#34;:true');
      const overview = (await (await fetch(`${url}api/overview`)).json()) as OverviewData;
      expect(overview.flows.map((flow) => flow.slug)).toEqual(['cli_dashboard']);
    } finally {
      dashboard.child.kill('SIGINT');
    }
    const exited = await dashboard.exited;
    expect(exited, exited.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(exited.stdout).toContain('SIGINT received: stopping the dashboard');
  });

  it('refuses a database without pgflow and a port in use, in one line', async () => {
    const notInstalled = await cli(['dashboard', '--port', '0'], { env: { DATABASE_URL: empty.url } });
    expect(notInstalled.code).toBe(1);
    expect(notInstalled.stderr).toMatch(/^pgflow-orm: pgflow is not installed in postgres:\/\/\S+; install it with `pgflow-orm migrate` or your migrator\n$/);

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const busy = await cli(['dashboard', '--port', String(port)], { env: { DATABASE_URL: db.url } });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toBe(`pgflow-orm: cannot listen on 127.0.0.1:${port}: the port is in use (pick another with --port)\n`);
    } finally {
      taken.close();
    }
  });
});

describe('pgflow-orm demo --dashboard', () => {
  it('keeps the embedded server and the dashboard up after the runs, prints the URL, and exits 0 on SIGINT', { timeout: 180_000 }, async () => {
    const demo = startCli(['demo', '--runs', '5', '--workers', '1', '--progress', 'none', '--dashboard', '--dashboard-port', '0'], { env: { DATABASE_URL: undefined }, timeoutMs: 170_000 });
    try {
      await demo.waitFor(/Dashboard still running at \S+ — Ctrl-C stops it and the embedded server\n/, 60_000);
      const out = demo.stdout();
      const url = urlIn(out, /Dashboard still running at (\S+)/);
      expect(out).toContain(`Dashboard: ${url} (open it to watch the runs)`);
      expect(out).toContain('  runs        5 completed, 0 failed (of 5 started)\n');
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<meta name="pgflow-dashboard"');
      const overview = (await (await fetch(`${url}api/overview`)).json()) as OverviewData;
      expect(overview.flows.find((flow) => flow.slug === DEMO_FLOW_SLUG)?.windowCounts).toEqual({ completed: 5 });
    } finally {
      demo.child.kill('SIGINT');
    }
    const exited = await demo.exited;
    expect(exited.code, exited.stderr).toBe(0);
    expect(exited.stderr).toContain('SIGINT received: stopping the dashboard');
  });
});
