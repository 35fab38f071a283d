/**
 * The docs site: VitePress over the Markdown files in docs/. The TypeScript
 * API reference (docs/reference/api/) is generated from the sources' JSDoc by
 * TypeDoc before each build (`npm run docs:build`) and is not committed.
 *
 * Everything the site needs is bundled at build time: no web fonts, no CDN,
 * no analytics, and the search index is built locally, so the build and the
 * site work without a network.
 */
import { existsSync, readFileSync } from 'node:fs';
import { defineConfig, type DefaultTheme } from 'vitepress';

const apiSidebarFile = new URL('../reference/api/typedoc-sidebar.json', import.meta.url);

/** The generated API pages, grouped per entry point (empty until `npm run docs:api` ran). */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  if (!existsSync(apiSidebarFile)) return [];
  return JSON.parse(readFileSync(apiSidebarFile, 'utf8')) as DefaultTheme.SidebarItem[];
}

export default defineConfig({
  title: 'pgflow-orm',
  description: 'Durable DAG workflows on plain PostgreSQL, for Node apps that use Drizzle or Kysely',
  cleanUrls: true,
  lastUpdated: false,
  // The README links into the docs with relative .md links, which GitHub follows too; links out of docs/ are
  // to files in the repository (examples, bench), which the site does not hold.
  ignoreDeadLinks: [(url) => /^(\.\/)?(\.\.\/)+(examples|bench|src|test)\//.test(url)],
  srcExclude: ['typedoc.json', 'tsconfig.typedoc.json', 'api-entry.ts'],
  // The local search index holds every page, the generated API reference included.
  vite: { build: { chunkSizeWarningLimit: 4096 } },
  themeConfig: {
    search: { provider: 'local' },
    outline: [2, 3],
    nav: [
      { text: 'Getting started', link: '/getting-started/' },
      { text: 'Guides', link: '/guides/defining-flows' },
      { text: 'SQL reference', link: '/reference/sql' },
      { text: 'TypeScript API', link: '/reference/api/' },
      { text: 'CLI', link: '/reference/cli' },
    ],
    sidebar: [
      {
        text: 'Getting started',
        items: [
          { text: 'Install and see it run', link: '/getting-started/' },
          { text: 'With Drizzle', link: '/getting-started/drizzle' },
          { text: 'With Kysely', link: '/getting-started/kysely' },
          { text: 'With plain SQL', link: '/getting-started/sql' },
          { text: 'Installing pgflow into your database', link: '/getting-started/installing' },
        ],
      },
      {
        text: 'Concepts',
        items: [
          { text: 'Flows, steps, runs, tasks, the queue', link: '/concepts/' },
          { text: 'Events', link: '/concepts/events' },
        ],
      },
      {
        text: 'Guides',
        items: [
          { text: 'Defining flows', link: '/guides/defining-flows' },
          { text: 'Shipping flow definitions', link: '/guides/shipping-flows' },
          { text: 'Typed queries', link: '/guides/typed-queries' },
          { text: 'Workers in production', link: '/guides/workers' },
          { text: 'Starting and operating runs', link: '/guides/operating-runs' },
          { text: 'Schedules and retention', link: '/guides/schedules-retention' },
          { text: 'Production roles', link: '/guides/roles' },
          { text: 'Upgrading', link: '/guides/upgrading' },
          { text: 'Dashboard', link: '/guides/dashboard' },
          { text: 'Performance and benchmarks', link: '/guides/performance' },
          { text: 'Scaling out', link: '/guides/scaling-out' },
        ],
      },
      {
        text: 'Reference',
        items: [
          { text: 'SQL API', link: '/reference/sql' },
          { text: 'Command line', link: '/reference/cli' },
          { text: 'TypeScript API', link: '/reference/api/', collapsed: true, items: apiSidebar() },
          { text: 'Compatibility with pgflow 0.8.1', link: '/reference/compatibility' },
        ],
      },
      {
        text: 'Project',
        items: [{ text: 'Developing pgflow-orm', link: '/developing' }],
      },
    ],
  },
});
