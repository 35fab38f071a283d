/**
 * `npm run bench:dashboard`: how fast the dashboard is with many runs in the
 * tables. It starts its own PostgreSQL (or uses DATABASE_URL's server),
 * installs pgflow, seeds N runs (default 100,000; see dashboard-seed.ts),
 * runs the demo flow through real workers for a few runs with retries, and
 * serves the dashboard. Then it measures:
 *
 * - each JSON endpoint a page reads (median and p95 of 20 requests);
 * - each page loading in headless Chromium (/usr/bin/chromium), from
 *   navigation until its data is on screen (median of 5 cold loads);
 * - live updates: from a task completing in the database to the fresh view
 *   arriving over Server-Sent Events (median and p95 of 20).
 *
 * `--screenshots <folder>` also writes the screenshots docs/guides/dashboard.md shows.
 *
 *   npm run bench:dashboard
 *   npm run bench:dashboard -- --runs 1000000
 *   npm run bench:dashboard -- --screenshots docs/dashboard
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { chromium, type Browser } from 'playwright-core';
import { serveDashboard } from '../src/dashboard/index.js';
import type { RunsListData } from '../src/dashboard/api-types.js';
import { DEMO_FLOW_SLUG } from '../src/demo/flow.js';
import { runDemo } from '../src/demo/run.js';
import { migratePgflow } from '../src/drizzle/migrate.js';
import { silentLogger } from '../src/flow/logger.js';
import { seedDashboardData, seedFlowSlug } from './dashboard-seed.js';
import { acquireServer, Databases, withClient } from './server.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    screenshots: { type: 'string' },
    'keep-databases': { type: 'boolean', default: false },
  },
});
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1000) throw new Error('--runs must be a whole number of at least 1000');

const log = (line: string) => console.log(line);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(values.length * 0.95) - 1)] ?? NaN;
const ms = (value: number) => `${value.toFixed(1)} ms`;

async function timeRequests(url: string, count = 20): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const began = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    times.push(performance.now() - began);
  }
  return times;
}

/** Loads a page `count` times, each in a new browser context (an empty cache), until `ready` is on screen. */
async function timePageLoads(browser: Browser, url: string, ready: string, count = 5): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const began = performance.now();
    await page.goto(url);
    await page.locator(ready).first().waitFor();
    times.push(performance.now() - began);
    await context.close();
  }
  return times;
}

/** Milliseconds from a task completing to the run view's update arriving over SSE. */
async function timeLiveUpdates(base: string, pool: pg.Pool, count = 20): Promise<number[]> {
  const times: number[] = [];
  await pool.query(`select pgflow.create_flow('bench_live')`);
  await pool.query(`select pgflow.add_step('bench_live', 'only')`);
  const worker = '00000000-0000-4000-8000-00000000b001';
  for (let i = 0; i < count; i++) {
    const [run] = (await pool.query<{ run_id: string }>(`select run_id from pgflow.start_flow('bench_live', '{}'::jsonb)`)).rows;
    const controller = new AbortController();
    const response = await fetch(`${base}api/live?view=run&run=${run!.run_id}`, { signal: controller.signal });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const next = async (match: (text: string) => boolean) => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (match(block)) return;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the live stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    };
    await next((block) => block.startsWith('event: update'));
    await pool.query(`select pgflow.start_tasks('bench_live', array(select msg_id from pgmq.read('bench_live', 30, 1)), $1::uuid)`, [worker]);
    const began = performance.now();
    await pool.query(`select pgflow.complete_task($1::uuid, 'only', 0, '{"ok": true}'::jsonb)`, [run!.run_id]);
    await next((block) => block.startsWith('event: update') && block.includes('"status":"completed"'));
    times.push(performance.now() - began);
    controller.abort();
  }
  return times;
}

async function main(): Promise<void> {
  const server = await acquireServer({ major: 17, profile: false });
  const databases = new Databases(server, 'pgflow_bench_dashboard');
  let dashboard: Awaited<ReturnType<typeof serveDashboard>> | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  let pool: pg.Pool | undefined;
  try {
    log(`Server: ${server.description}`);
    const url = server.urlFor(await databases.create('main'));
    await withClient(url, (client) => migratePgflow(drizzle(client)));
    log(`Seeding ${runs.toLocaleString('en')} runs (4 flows of 5 steps, over the last 48 h; their tasks and archived messages) ...`);
    const seedBegan = performance.now();
    await withClient(url, (client) => seedDashboardData(client, { runs, flows: 4, stepsPerFlow: 5, archive: true }, log));
    log(`  seeded in ${((performance.now() - seedBegan) / 1000).toFixed(1)} s`);
    log('Running the demo flow for 40 runs (real workers, some retried) ...');
    const demo = await runDemo({ databaseUrl: url, runs: 40, workers: 2, progress: 'none', log: () => {}, logger: silentLogger });
    log(`  ${demo.runs.completed} completed`);

    pool = new pg.Pool({ connectionString: url, max: 4 });
    const sizes = (await pool.query<{ runs: string; tasks: string }>(`select (select count(*) from pgflow.runs)::text as runs, (select count(*) from pgflow.step_tasks)::text as tasks`)).rows[0]!;
    log(`Tables: ${Number(sizes.runs).toLocaleString('en')} runs, ${Number(sizes.tasks).toLocaleString('en')} tasks`);
    dashboard = await serveDashboard({ connectionString: url, port: 0 });
    const base = dashboard.url;
    const [failed] = (await pool.query<{ run_id: string }>(`select run_id from pgflow.runs where flow_slug = $1 and status = 'failed' order by run_id desc limit 1`, [seedFlowSlug(0)])).rows;
    const [middle] = (await pool.query<{ run_id: string }>(`select run_id from pgflow.runs order by run_id offset $1 limit 1`, [Math.floor(runs / 2)])).rows;
    const [retried] = (await pool.query<{ run_id: string }>(
      `select t.run_id from pgflow.step_tasks t join pgflow.runs r on r.run_id = t.run_id where t.flow_slug = $1 and t.attempts_count > 1 and r.status = 'completed' order by t.run_id limit 1`,
      [DEMO_FLOW_SLUG],
    )).rows;

    const endpoints: [string, string][] = [
      ['overview (last hour)', 'api/overview'],
      ['overview (last day)', 'api/overview?window=day'],
      ['flow page', `api/flows/${seedFlowSlug(0)}`],
      ['runs list, first page', 'api/runs'],
      ['runs list, failed runs of a flow', `api/runs?flow=${seedFlowSlug(1)}&status=failed`],
      ['runs list, a page in the middle', `api/runs?before=${middle!.run_id}`],
      ['runs list, the last hour', `api/runs?from=${new Date(Date.now() - 3_600_000).toISOString()}`],
      ['runs list, input search (10k runs looked at)', `api/runs?q=${encodeURIComponent('{"customer": "cus-42"}')}`],
      ['run page', `api/runs/${failed!.run_id}`],
    ];
    log('');
    log('JSON endpoints (20 requests each, sequential)');
    log(`  ${'endpoint'.padEnd(46)}${'median'.padStart(10)}${'p95'.padStart(10)}`);
    for (const [name, path] of endpoints) {
      const times = await timeRequests(`${base}${path}`);
      log(`  ${name.padEnd(46)}${ms(median(times)).padStart(10)}${ms(p95(times)).padStart(10)}`);
    }
    const firstPage = (await (await fetch(`${base}api/runs`)).json()) as RunsListData;
    if (firstPage.runs.length !== 50) throw new Error('the runs list did not fill a page');

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const pages: [string, string, string][] = [
      ['overview', '', `.flow-card[data-flow="${seedFlowSlug(0)}"] [data-stat="running"]`],
      ['flow graph', `flows/${DEMO_FLOW_SLUG}`, 'g.node'],
      ['runs list filtered by status', `runs?status=failed`, '[data-testid="runs-table"] tbody tr'],
      ['run page', `runs/${failed!.run_id}`, '.tl-row[data-status]'],
    ];
    log('');
    log('Page loads in headless Chromium, navigation to data on screen (5 loads each, each with an empty cache)');
    log(`  ${'page'.padEnd(46)}${'median'.padStart(10)}${'max'.padStart(10)}`);
    for (const [name, path, ready] of pages) {
      const times = await timePageLoads(browser, `${base}${path}`, ready);
      log(`  ${name.padEnd(46)}${ms(median(times)).padStart(10)}${ms(Math.max(...times)).padStart(10)}`);
    }

    const live = await timeLiveUpdates(base, pool);
    log('');
    log(`Live updates, task completed in the database → fresh run view over SSE (20): median ${ms(median(live))}, p95 ${ms(p95(live))}`);

    if (args.screenshots) {
      const folder = resolve(args.screenshots);
      mkdirSync(folder, { recursive: true });
      const page = await context.newPage();
      const shoot = async (name: string, path: string, ready: string, prepare?: () => Promise<void>) => {
        await page.goto(`${base}${path}`);
        await page.locator(ready).first().waitFor();
        await prepare?.();
        await page.waitForTimeout(300);
        await page.screenshot({ path: join(folder, `${name}.png`), fullPage: name !== 'run' });
        log(`  wrote ${join(args.screenshots!, `${name}.png`)}`);
      };
      log('');
      log('Screenshots');
      await shoot('overview', '', '.flow-card');
      await shoot('flow', `flows/${DEMO_FLOW_SLUG}?run=${retried!.run_id}`, 'g.node[data-status="completed"]', async () => {
        await page.locator('g.node[data-step="reserve_inventory"]').hover();
      });
      await shoot('runs', `runs?status=failed`, '[data-testid="runs-table"] tbody tr');
      await page.setViewportSize({ width: 1360, height: 1500 });
      await shoot('run', `runs/${retried!.run_id}`, '.tl-row[data-status]');
    }
  } finally {
    await browser?.close();
    await dashboard?.close();
    await pool?.end();
    if (!args['keep-databases']) await databases.dropAll().catch(() => {});
    await server.stop();
  }
}

await main();
