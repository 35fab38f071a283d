/**
 * The dashboard end to end in headless Chromium: the overview (cancelled
 * runs, a paused flow), a flow's graph (laid out, map steps marked, options
 * on hover, coloured by a picked run with a legend, a skipped step saying
 * why), the runs list filtered by status through its form, run pages of a
 * real map run and of a run with a skipped step, a run page that follows a
 * real worker (startWorker) as it completes the run, live, and the actions:
 * cancelling a run from its page (which updates live), retrying it, pausing
 * and resuming a flow, and a database role that may not run them. No page
 * may log a script error or a Content-Security-Policy violation.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Flow } from '../../src/flow/flow.js';
import { silentLogger } from '../../src/flow/logger.js';
import { startWorker, type WorkerHandle } from '../../src/worker/worker.js';
import { completeTask, defineFlow, drain, failTask, startFlow, takeTask } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { useRolesOn } from '../support/roles.js';
import { openBrowser, type TestBrowser } from './browser.js';
import { serveTestDashboard, type TestDashboard } from './support.js';

const db = useTestDatabase();
const role = useRolesOn(db);
let dashboard: TestDashboard;
/** The same database with actions allowed. */
let withActions: TestDashboard;
let browser: TestBrowser;
const failedRuns: string[] = [];
let cancelledRun: string;
let mapRun: string;
let screenedRun: string;

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
  await defineFlow(db, 'batches', { steps: ['split', { slug: 'each_item', deps: ['split'], stepType: 'map' }] });
  mapRun = (await startFlow(db, 'batches', { n: 1 })).run_id;
  await drain(db, 'batches', (task) => (task.step_slug === 'split' ? ['x', 'y', 'z'] : { item: task.input }));
  await defineFlow(db, 'screening', {
    steps: ['classify', { slug: 'review', deps: ['classify'], if: { classify: { risk: 'high' } } }, { slug: 'ship', deps: ['classify', 'review'] }],
  });
  screenedRun = (await startFlow(db, 'screening', { order: 1 })).run_id;
  await drain(db, 'screening', (task) => (task.step_slug === 'classify' ? { risk: 'low' } : { done: task.step_slug }));
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
  await db.query(`select pgflow.pause_flow('fragile')`);
  cancelledRun = (await startFlow(db, 'shop', { n: 98 })).run_id;
  await db.query(`select pgflow.cancel_run($1::uuid, 'out of stock')`, [cancelledRun]);
  await startFlow(db, 'shop', { n: 99 });
  dashboard = await serveTestDashboard({ pool: db.pool });
  withActions = await serveTestDashboard({ pool: db.pool, allowActions: true, authorize: () => true });
  browser = await openBrowser();
}, 60_000);

afterEach(async () => {
  await browser?.closePages();
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await withActions?.close();
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
    expect(await shop.locator('[data-stat="cancelled"]').textContent()).toBe('1');
    expect(await shop.locator('[data-stat="window-total"]').textContent()).toBe('5');
    // The cancelled run counts as neither a success nor a failure.
    expect(await shop.locator('[data-stat="failure-rate"]').textContent()).toBe('0 %');
    expect(await shop.locator('[data-stat="paused"]').count()).toBe(0);
    const fragile = page.locator('.flow-card[data-flow="fragile"]');
    expect(await fragile.locator('[data-stat="failed"]').textContent()).toBe('2');
    expect(await fragile.locator('[data-stat="failure-rate"]').textContent()).toBe('100 %');
    expect(await fragile.locator('[data-stat="paused"]').textContent()).toBe('paused');
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

    // Without a run there is nothing to colour, and no legend.
    expect(await page.locator('[data-testid="graph-legend"]').count()).toBe(0);
    // Picking a run colours the graph by its step statuses, with a legend.
    await page.locator('.run-picker a').last().click();
    await page.locator('[data-testid="selected-run"]').waitFor();
    expect(page.url()).toMatch(/\?run=[0-9a-f-]{36}$/);
    expect(await page.locator('g.node').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-status')))).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(await page.locator('[data-testid="graph-legend"] li').allTextContents()).toEqual([' created', ' started', ' completed', ' failed', ' skipped', ' cancelled']);

    // A cancelled run's steps are all cancelled; their nodes say so and take the cancelled colour.
    await page.goto(`${dashboard.url}flows/shop?run=${cancelledRun}`);
    await page.locator('[data-testid="selected-run"]').getByText('cancelled').waitFor();
    expect(await page.locator('g.node.is-cancelled').count()).toBe(4);
    const boxFill = await page.locator('g.node[data-step="receive"] rect.box').evaluate((element) => element.ownerDocument.defaultView!.getComputedStyle(element).fill);
    const swatch = (status: string) => page.locator(`[data-testid="graph-legend"] li.is-${status} .swatch`).evaluate((element) => element.ownerDocument.defaultView!.getComputedStyle(element).backgroundColor);
    expect(boxFill).toBe(await swatch('cancelled'));
    expect(new Set(await Promise.all(['created', 'started', 'completed', 'failed', 'skipped', 'cancelled'].map(swatch))).size).toBe(6);

    // A skipped step says why, and its condition is tagged.
    await page.goto(`${dashboard.url}flows/screening?run=${screenedRun}`);
    const review = page.locator('g.node[data-step="review"]');
    await page.locator('g.node[data-step="review"][data-status="skipped"]').waitFor();
    expect(await review.locator('text.sub').textContent()).toBe('skipped · condition not met');
    expect(await review.locator('title').textContent()).toContain('skipped: condition not met');
    expect(await review.locator('text.tag').textContent()).toBe('if');
    expect(await page.locator('tr[data-step="review"] td.mono').last().textContent()).toBe('if {"classify":{"risk":"high"}}, else skip');

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
    expect(await page.locator('[data-testid="runs-table"] tbody tr').count()).toBe(9);
    await page.locator('select[name="status"]').selectOption('cancelled');
    await page.locator('[data-testid="runs-filter"] button[type="submit"]').click();
    await page.waitForURL(/\/runs\?status=cancelled$/);
    // The table may be empty for a moment while the filtered list loads: wait for the rows that should be there.
    await page.locator('[data-testid="runs-table"] tbody tr[data-status="cancelled"]').first().waitFor();
    await page.locator('[data-testid="runs-table"] tbody tr:not([data-status="cancelled"])').first().waitFor({ state: 'detached' });
    expect(await page.locator('[data-testid="runs-table"] tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-run')))).toEqual([cancelledRun]);
    await page.locator('select[name="status"]').selectOption('failed');
    await page.locator('[data-testid="runs-filter"] button[type="submit"]').click();
    await page.waitForURL(/\/runs\?status=failed$/);
    await page.locator('[data-testid="runs-table"] tbody tr[data-status="failed"]').nth(failedRuns.length - 1).waitFor();
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

  it('a map run’s page has a timeline row per element, and a skipped step says why', async () => {
    const page = await browser.page();
    await page.goto(`${dashboard.url}runs/${mapRun}`);
    await page.locator('[data-testid="run-status"]').getByText('completed').waitFor();
    expect(await page.locator('.tl-row[data-step="each_item"]').evaluateAll((rows) => rows.map((row) => [row.querySelector('.tl-label')?.textContent, row.getAttribute('data-status')]))).toEqual([
      ['each_item[0]', 'completed'],
      ['each_item[1]', 'completed'],
      ['each_item[2]', 'completed'],
    ]);
    expect(await page.locator('g.node[data-step="each_item"] text.sub').textContent()).toBe('completed · 3/3 tasks');
    expect(JSON.parse((await page.locator('[data-testid="run-output"]').textContent())!)).toEqual({ each_item: [{ item: 'x' }, { item: 'y' }, { item: 'z' }] });

    await page.goto(`${dashboard.url}runs/${screenedRun}`);
    await page.locator('[data-testid="run-status"]').getByText('completed').waitFor();
    expect(await page.locator('[data-testid="steps-table"] tr[data-step="review"]').getAttribute('data-status')).toBe('skipped');
    expect(await page.locator('[data-testid="steps-table"] tr[data-step="review"] .skip-text').textContent()).toBe('skipped: condition not met');
    expect(await page.locator('.tl-row[data-step="review"]').getAttribute('data-status')).toBe('skipped');
    expect(await page.locator('.tl-row[data-step="review"] .tl-track .tl-note').textContent()).toBe('skipped: condition not met');
    expect(await page.locator('[data-testid="events"] li[data-event="step:skipped"]').textContent()).toContain('review (condition not met)');
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

  it('a run is cancelled from its page, with a reason: the page follows live, then offers to retry it', async () => {
    await defineFlow(db, 'held', { steps: ['wait_here', { slug: 'after', deps: ['wait_here'] }] });
    const run = (await startFlow(db, 'held', { order: 'ord-9' })).run_id;
    const page = await browser.page();
    await page.goto(`${withActions.url}runs/${run}`);
    await page.locator('[data-testid="live"].on').waitFor();
    await page.locator('[data-testid="run-status"]').getByText('started').waitFor();
    // A running run can be cancelled, not retried.
    await page.locator('button[data-action="cancel-run"]').waitFor();
    expect(await page.locator('[data-testid="actions"] button[data-action]').evaluateAll((buttons) => buttons.map((button) => button.getAttribute('data-action')))).toEqual(['cancel-run']);
    await page.locator('button[data-action="cancel-run"]').click();
    expect(await page.locator('[data-testid="confirm"]').textContent()).toContain(`Cancel run — run ${run}?`);
    await page.locator('[data-testid="action-reason"]').fill('the customer called');
    await page.locator('[data-testid="confirm"] button.danger').click();

    await page.locator('[data-testid="run-status"]').getByText('cancelled').waitFor();
    expect(await page.locator('[data-testid="cancel-reason"]').textContent()).toBe('the customer called');
    await page.locator('[data-testid="events"] li.live-event[data-event="run:cancelled"]').waitFor();
    expect(await page.locator('[data-testid="events"] li.live-event[data-event="run:cancelled"]').textContent()).toContain('reason: the customer called');
    expect(await page.locator('g.node').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-status')))).toEqual(['cancelled', 'cancelled']);
    expect(await page.locator('.tl-row[data-step="wait_here"]').getAttribute('data-status')).toBe('cancelled');
    expect(await db.query(`select status, cancel_reason from pgflow.runs where run_id = $1`, [run])).toEqual([{ status: 'cancelled', cancel_reason: 'the customer called' }]);

    // A cancelled run can be retried; it starts again.
    await page.locator('button[data-action="retry-run"]').waitFor();
    expect(await page.locator('button[data-action="cancel-run"]').count()).toBe(0);
    await page.locator('button[data-action="retry-run"]').click();
    await page.locator('[data-testid="confirm"] button.danger').click();
    await page.locator('[data-testid="run-status"]').getByText('started').waitFor();
    await page.locator('[data-testid="events"] li.live-event[data-event="run:retried"]').waitFor();
    expect(await page.locator('g.node[data-step="wait_here"]').getAttribute('data-status')).toBe('started');
    expect(page.errors).toEqual([]);
  });

  it('a flow is paused and resumed from its page, and the run page says its flow is paused', async () => {
    await defineFlow(db, 'pausable', { steps: ['only'] });
    const run = (await startFlow(db, 'pausable', {})).run_id;
    const page = await browser.page();
    await page.goto(`${withActions.url}flows/pausable`);
    await page.locator('[data-testid="live"].on').waitFor();
    await page.locator('button[data-action="pause-flow"]').click();
    expect(await page.locator('[data-testid="confirm"]').textContent()).toContain('Pause flow — flow pausable?');
    await page.locator('[data-testid="confirm"] button.danger').click();
    await page.locator('[data-testid="flow-paused"]').waitFor();
    const [row] = await db.query<{ paused_at: Date | null }>(`select paused_at from pgflow.flows where flow_slug = 'pausable'`);
    expect(row!.paused_at).toBeInstanceOf(Date);
    await page.locator('button[data-action="resume-flow"]').waitFor();
    expect(await page.locator('button[data-action="pause-flow"]').count()).toBe(0);

    const runPage = await browser.page();
    await runPage.goto(`${withActions.url}runs/${run}`);
    await runPage.locator('[data-testid="flow-paused"]').waitFor();
    expect(await runPage.locator('[data-testid="flow-paused"]').textContent()).toContain('Flow pausable is paused since');

    await page.locator('button[data-action="resume-flow"]').click();
    await page.locator('[data-testid="confirm"] button.danger').click();
    await page.locator('[data-testid="flow-paused"]').waitFor({ state: 'detached' });
    // The run page hears flow:resumed too.
    await runPage.locator('[data-testid="flow-paused"]').waitFor({ state: 'detached' });
    expect(await db.query(`select paused_at from pgflow.flows where flow_slug = 'pausable'`)).toEqual([{ paused_at: null }]);
    expect([...page.errors, ...runPage.errors]).toEqual([]);
  });

  it('a dashboard whose database role is a reader shows the actions disabled, saying which level to grant', async () => {
    const reader = await role('dash_reader');
    await db.query(`select pgflow.grant_reader($1)`, [reader.name]);
    const readOnly = await serveTestDashboard({ connectionString: reader.urlFor(db.url), allowActions: true, authorize: () => true });
    try {
      const run = (await startFlow(db, 'shop', { n: 100 })).run_id;
      const page = await browser.page();
      await page.goto(`${readOnly.url}runs/${run}`);
      await page.locator('[data-testid="run-status"]').getByText('started').waitFor();
      await page.locator('button[data-action="cancel-run"]').waitFor();
      expect(await page.locator('button[data-action="cancel-run"]').isDisabled()).toBe(true);
      expect(await page.locator('[data-testid="actions-unavailable"]').textContent()).toBe(
        `the dashboard's database role "${reader.name}" may not call pgflow.cancel_run(uuid, text): give it pgflow's admin access level with select pgflow.grant_admin('${reader.name}');`,
      );
      expect(page.errors).toEqual([]);
    } finally {
      await browser.closePages();
      await readOnly.close();
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
