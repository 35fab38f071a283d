/**
 * The dashboard end to end in headless Chromium: the overview, a flow's
 * graph (laid out, map steps marked, options on hover, coloured by a picked
 * run), the runs list filtered by status through its form, and a run page
 * that follows a real worker (startWorker) as it completes the run, live.
 * No page may log a script error or a Content-Security-Policy violation.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Flow } from '../../src/flow/flow.js';
import { silentLogger } from '../../src/flow/logger.js';
import { startWorker, type WorkerHandle } from '../../src/worker/worker.js';
import { completeTask, defineFlow, failTask, startFlow, takeTask } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { openBrowser, type TestBrowser } from './browser.js';
import { serveTestDashboard, type TestDashboard } from './support.js';

const db = useTestDatabase();
let dashboard: TestDashboard;
let browser: TestBrowser;
const failedRuns: string[] = [];

/** Gates the live flow's handlers: each step waits until the test opens its gate. */
const gates = new Map<string, () => void>();
const gate = (name: string) => new Promise<void>((resolve) => gates.set(name, resolve));
const open = (name: string) => {
  const release = gates.get(name);
  if (!release) throw new Error(`no handler waits at gate ${name} yet`);
  release();
};
const waitForGate = async (name: string) => {
  for (let i = 0; i < 200 && !gates.has(name); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  if (!gates.has(name)) throw new Error(`the worker did not reach ${name}`);
};

const liveFlow = new Flow<{ order: string }>({ slug: 'live_orders', maxAttempts: 2, baseDelay: 1, timeout: 20 })
  .step({ slug: 'validate' }, async ({ run }) => {
    await gate('validate');
    return { order: run.order, valid: true };
  })
  .step({ slug: 'charge', dependsOn: ['validate'] }, async () => {
    await gate('charge');
    return { charged: 1290 };
  });

beforeAll(async () => {
  await defineFlow(db, 'shop', {
    steps: [{ slug: 'receive' }, { slug: 'pack', deps: ['receive'] }, { slug: 'bill', deps: ['receive'], timeout: 7 }, { slug: 'ship', deps: ['pack', 'bill'] }],
  });
  await defineFlow(db, 'batches', { steps: ['split'] });
  await db.query(`insert into pgflow.steps (flow_slug, step_slug, step_type, step_index, deps_count) values ('batches', 'each_item', 'map', 1, 1)`);
  await db.query(`insert into pgflow.deps (flow_slug, dep_slug, step_slug) values ('batches', 'split', 'each_item')`);
  for (let n = 0; n < 3; n++) {
    const run = (await startFlow(db, 'shop', { n })).run_id;
    for (const step of ['receive', 'pack', 'bill', 'ship']) {
      await takeTask(db, 'shop', run, step);
      await completeTask(db, run, step, { step });
    }
  }
  await defineFlow(db, 'fragile', { maxAttempts: 1, steps: ['only'] });
  for (let n = 0; n < 2; n++) {
    const run = (await startFlow(db, 'fragile', { n })).run_id;
    await takeTask(db, 'fragile', run, 'only');
    await failTask(db, run, 'only', `broke ${n}`);
    failedRuns.push(run);
  }
  await startFlow(db, 'shop', { n: 99 });
  dashboard = await serveTestDashboard({ pool: db.pool });
  browser = await openBrowser();
}, 60_000);

afterEach(async () => {
  await browser?.closePages();
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

describe('in a browser', () => {
  it('the overview shows each flow with its counts and the workers', async () => {
    await db.query(`select pgflow.register_worker($1::uuid, 'shop', 'billing-worker')`, [randomUUID()]);
    const page = await browser.page();
    await page.goto(dashboard.url);
    const shop = page.locator('.flow-card[data-flow="shop"]');
    await shop.waitFor();
    expect(await shop.locator('[data-stat="running"]').textContent()).toBe('1');
    expect(await shop.locator('[data-stat="completed"]').textContent()).toBe('3');
    expect(await shop.locator('[data-stat="window-total"]').textContent()).toBe('4');
    const fragile = page.locator('.flow-card[data-flow="fragile"]');
    expect(await fragile.locator('[data-stat="failed"]').textContent()).toBe('2');
    expect(await fragile.locator('[data-stat="failure-rate"]').textContent()).toBe('100 %');
    expect(await shop.locator('[data-stat="queue-visible"]').textContent()).toBe('1');
    expect(await page.locator('[data-testid="workers"] tr.worker-live td:nth-child(4)').allTextContents()).toContain('billing-worker');
    await page.locator('[data-testid="live"].on').waitFor();
    expect(page.errors).toEqual([]);
  });

  it('the flow page draws the DAG laid out left to right, marks map steps and shows options on hover', async () => {
    const page = await browser.page();
    await page.goto(`${dashboard.url}flows/shop`);
    await page.locator('[data-testid="flow-graph"] g.node').first().waitFor();
    expect(await page.locator('g.node').count()).toBe(4);
    expect((await page.locator('path.edge').evaluateAll((edges) => edges.map((edge) => edge.getAttribute('data-edge')))).sort()).toEqual([
      'bill->ship',
      'pack->ship',
      'receive->bill',
      'receive->pack',
    ]);
    const x = async (step: string) => {
      const box = await page.locator(`g.node[data-step="${step}"] rect.box`).boundingBox();
      return box!.x;
    };
    expect(await x('pack')).toBeGreaterThan(await x('receive'));
    expect(await x('ship')).toBeGreaterThan(await x('bill'));
    const packBox = (await page.locator('g.node[data-step="pack"] rect.box').boundingBox())!;
    const billBox = (await page.locator('g.node[data-step="bill"] rect.box').boundingBox())!;
    expect(Math.abs(packBox.y - billBox.y)).toBeGreaterThan(20);

    await page.locator('g.node[data-step="bill"]').hover();
    const details = page.locator('[data-testid="step-details"]');
    await details.getByText('timeout: 7 s').waitFor();
    expect(await details.textContent()).toContain('depends on: receive');

    // Picking a run colours the graph by its step statuses.
    await page.locator('.run-picker a').last().click();
    await page.locator('[data-testid="selected-run"]').waitFor();
    expect(page.url()).toMatch(/\?run=[0-9a-f-]{36}$/);
    expect(await page.locator('g.node').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-status')))).toEqual(['completed', 'completed', 'completed', 'completed']);

    await page.goto(`${dashboard.url}flows/batches`);
    const map = page.locator('g.node[data-step="each_item"]');
    await map.waitFor();
    expect(await map.getAttribute('class')).toContain('is-map');
    expect(await map.locator('text.tag').textContent()).toBe('map');
    expect(await map.locator('rect.stack').count()).toBe(2);
    expect(await page.locator('g.node[data-step="split"] rect.stack').count()).toBe(0);
    expect(page.errors).toEqual([]);
  });

  it('the runs list filters by status through its form', async () => {
    const page = await browser.page();
    await page.goto(`${dashboard.url}runs`);
    await page.locator('[data-testid="runs-table"] tbody tr').first().waitFor();
    expect(await page.locator('[data-testid="runs-table"] tbody tr').count()).toBe(6);
    await page.locator('select[name="status"]').selectOption('failed');
    await page.locator('[data-testid="runs-filter"] button[type="submit"]').click();
    await page.waitForURL(/\/runs\?status=failed$/);
    await page.locator('[data-testid="runs-table"] tbody tr:not([data-status="failed"])').first().waitFor({ state: 'detached' });
    expect(await page.locator('[data-testid="runs-table"] tbody tr').evaluateAll((rows) => rows.map((row) => [row.getAttribute('data-run'), row.getAttribute('data-status')]))).toEqual(
      [...failedRuns].reverse().map((run) => [run, 'failed']),
    );
    // A run id links to its page.
    await page.locator(`[data-testid="runs-table"] a[href$="${failedRuns[0]}"]`).click();
    await page.locator('[data-testid="run-status"]').getByText('failed').waitFor();
    expect(await page.locator('[data-testid="steps-table"] tr[data-step="only"] .error-text').textContent()).toBe('broke 0');
    expect(page.errors).toEqual([]);
  });

  it('a run page follows a worker completing the run, live', async () => {
    let worker: WorkerHandle | undefined;
    try {
      worker = await startWorker({ pool: db.pool, flows: [liveFlow], logger: silentLogger, pollInterval: 200 });
      const run = (await startFlow(db, 'live_orders', { order: 'ord-7' })).run_id;
      const page = await browser.page();
      await page.goto(`${dashboard.url}runs/${run}`);
      await page.locator('[data-testid="live"].on').waitFor();
      const node = (step: string) => page.locator(`g.node[data-step="${step}"]`);
      await waitForGate('validate');
      await page.locator('g.node[data-step="validate"][data-status="started"]').waitFor();
      expect(await node('charge').getAttribute('data-status')).toBe('created');
      expect(await page.locator('[data-testid="run-status"]').textContent()).toBe('started');

      open('validate');
      await page.locator('g.node[data-step="validate"][data-status="completed"]').waitFor();
      await waitForGate('charge');
      await page.locator('g.node[data-step="charge"][data-status="started"]').waitFor();
      await page.locator('[data-testid="events"] li.live-event[data-event="step:completed"]').waitFor();
      expect(await page.locator('.tl-row[data-step="validate"]').getAttribute('data-status')).toBe('completed');

      open('charge');
      await page.locator('[data-testid="run-status"]').getByText('completed').waitFor();
      expect(await page.locator('g.node').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-status')))).toEqual(['completed', 'completed']);
      await page.locator('[data-testid="events"] li.live-event[data-event="run:completed"]').waitFor();
      expect(JSON.parse((await page.locator('[data-testid="run-output"]').textContent())!)).toEqual({ charge: { charged: 1290 } });
      expect(await page.locator('.tl-row').evaluateAll((rows) => rows.map((row) => [row.getAttribute('data-step'), row.getAttribute('data-status')]))).toEqual([
        ['validate', 'completed'],
        ['charge', 'completed'],
      ]);
      expect(await page.locator('.tl-row .seg-completed').count()).toBe(2);
      expect(page.errors).toEqual([]);
    } finally {
      for (const release of gates.values()) release();
      await worker?.stop({ gracePeriod: 1000 });
    }
  });

  it('a page for a flow or run that does not exist says so', async () => {
    const page = await browser.page();
    const flow = await page.goto(`${dashboard.url}flows/nope`);
    expect(flow?.status()).toBe(404);
    expect(await page.locator('[data-testid="problem"]').textContent()).toBe('Not foundthere is no flow "nope"');
    const run = await page.goto(`${dashboard.url}runs/12345`);
    expect(run?.status()).toBe(404);
    await page.locator('[data-testid="problem"]').getByText('"12345" is not a run id').waitFor();
    expect(page.errors).toEqual([]);
  });
});
