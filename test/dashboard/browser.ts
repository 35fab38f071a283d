/**
 * A real headless Chromium for the dashboard's end-to-end tests: Debian's
 * `chromium` package at /usr/bin/chromium driven by playwright-core (no
 * browser download), with a fresh profile folder. A missing browser fails
 * the tests with a message saying how to install it. Pages record their
 * script errors and console errors (Content-Security-Policy violations
 * among them) so tests can insist there are none.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface TestBrowser {
  context: BrowserContext;
  /** A new page whose errors are collected in `errors`. */
  page(): Promise<Page & { errors: string[] }>;
  /**
   * Closes the pages opened so far. Each page holds a live (SSE) connection, and a browser opens at
   * most six HTTP/1.1 connections to one server, so tests close their pages when they are done.
   */
  closePages(): Promise<void>;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The dashboard's browser tests need Chromium at ${CHROMIUM}, which is missing. Install Debian's package: apt-get install -y chromium (.ci/run does this before the tests).`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), 'pgflow-dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
  });
  const pages: Page[] = [];
  return {
    context,
    async page() {
      const page = (await context.newPage()) as Page & { errors: string[] };
      pages.push(page);
      page.errors = [];
      page.on('pageerror', (error) => page.errors.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of 40[034]/.test(message.text())) page.errors.push(`console: ${message.text()}`);
      });
      return page;
    },
    async closePages() {
      await Promise.all(pages.splice(0).map((page) => page.close()));
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
