/**
 * Every value from the database, and from the address bar, renders as text:
 * in headless Chromium, a run whose input, step outputs and error messages
 * hold HTML and script, and a flow slug with quotes and a script tag in the
 * URL, show those characters literally, create no element, and run nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { completeTask, defineFlow, failTask, startFlow, takeTask } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';
import { openBrowser, type TestBrowser } from './browser.js';
import { serveTestDashboard, type TestDashboard } from './support.js';

const db = useTestDatabase();
let dashboard: TestDashboard;
let browser: TestBrowser;
let runId: string;

const SCRIPT = '<script>window.__pwned = "script"</script>';
const IMAGE = '"><img src=x onerror="window.__pwned = \'img\'">';
const BOLD = "<b onmouseover=\"window.__pwned = 'b'\">bold</b>";
const SVG = '<svg onload="window.__pwned = \'svg\'"></svg>';

/** Elements a successful injection would have created. */
const INJECTED = 'main img, main b, main svg[onload], main script, main iframe';

beforeAll(async () => {
  await defineFlow(db, 'quoted', { maxAttempts: 1, steps: ['first', { slug: 'second', deps: ['first'] }] });
  runId = (await startFlow(db, 'quoted', { name: SCRIPT, [IMAGE]: 'key with markup', note: SVG })).run_id;
  await takeTask(db, 'quoted', runId, 'first');
  await completeTask(db, runId, 'first', { html: SCRIPT, image: IMAGE });
  await takeTask(db, 'quoted', runId, 'second');
  await failTask(db, runId, 'second', `${BOLD} ${SCRIPT}`);
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

describe('escaping', () => {
  it('shows HTML in inputs, outputs and error messages as text on the run page', async () => {
    const page = await browser.page();
    await page.goto(`${dashboard.url}runs/${runId}`);
    await page.locator('[data-testid="run-status"]').getByText('failed').waitFor();
    const input = await page.locator('[data-testid="run-input"]').textContent();
    expect(JSON.parse(input!)).toEqual({ name: SCRIPT, [IMAGE]: 'key with markup', note: SVG });
    expect(await page.locator('[data-testid="steps-table"] tr[data-step="second"] .error-text').textContent()).toBe(`${BOLD} ${SCRIPT}`);
    // Open every task's details, so the outputs are rendered too.
    for (const summary of await page.locator('.task-outputs summary').all()) await summary.click();
    const output = await page.locator('[data-task-output="first:0"] pre.json').textContent();
    expect(JSON.parse(output!)).toEqual({ html: SCRIPT, image: IMAGE });
    const events = await page.locator('[data-testid="events"]').textContent();
    expect(events).toContain(`${BOLD} ${SCRIPT}`);
    // Hovering the timeline shows the error in a tooltip, as text as well.
    expect(await page.locator('.tl-row[data-step="second"] .seg-failed').getAttribute('title')).toContain(SCRIPT);

    expect(await page.locator(INJECTED).count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(await page.locator('script').count()).toBe(1);
    expect(page.errors).toEqual([]);
  });

  it('shows a flow slug with quotes and markup from the address bar as text', async () => {
    const slug = `a"b'<script>window.__pwned = "slug"</script>`;
    const page = await browser.page();
    const response = await page.goto(`${dashboard.url}flows/${encodeURIComponent(slug)}`);
    expect(response?.status()).toBe(404);
    await page.locator('[data-testid="problem"]').waitFor();
    expect(await page.locator('[data-testid="flow-slug"]').textContent()).toBe(slug);
    expect(await page.locator('[data-testid="problem"] p').textContent()).toBe(`there is no flow "${slug}"`);
    expect(await page.title()).toBe(`Flow ${slug} · pgflow`);

    await page.goto(`${dashboard.url}runs?q=${encodeURIComponent(IMAGE)}`);
    await page.locator('[data-testid="problem"]').waitFor();
    expect(await page.locator('[data-testid="problem"] p').textContent()).toContain(IMAGE);
    expect(await page.locator('input[name="q"]').inputValue()).toBe(IMAGE);

    expect(await page.locator(INJECTED).count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(page.errors).toEqual([]);
  });
});
