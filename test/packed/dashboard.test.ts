/**
 * The dashboard as users get it: the `npm pack` output carries the built
 * front end (dist/dashboard-ui) and `pgflow-orm/dashboard`, whose types an
 * app's own tsc accepts; in the consumer app, a script serves the dashboard
 * from node_modules with nothing else installed, and the page, its script
 * and the API answer; examples/dashboard, installed as a user would, builds
 * with its own tsc and serves the dashboard from Express and Fastify.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/paths.js';
import { useTestDatabase } from '../support/database.js';
import { runOk } from '../support/processes.js';
import { installedApp, removeWorkFolders, workFolder } from './support/apps.js';
import { packedTarball } from './support/tarball.js';

const db = useTestDatabase();
afterAll(removeWorkFolders);

const SCRIPT = `import { createServer } from 'node:http';
import { createDashboard, type DashboardOptions, type OverviewData } from 'pgflow-orm/dashboard';

const options: DashboardOptions = { connectionString: process.env.DATABASE_URL!, basePath: '/ops/pgflow' };
const dashboard = createDashboard(options);
const server = createServer((req, res) => dashboard(req, res));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address();
const base = \`http://127.0.0.1:\${typeof address === 'object' && address ? address.port : 0}/ops/pgflow/\`;
const page = await fetch(base);
const html = await page.text();
const script = html.match(/src="\\.\\/(assets\\/[^"]+\\.js)"/)?.[1] ?? '';
const asset = await fetch(base + script);
const overview = (await (await fetch(base + 'api/overview')).json()) as OverviewData;
console.log(JSON.stringify({ page: page.status, base: html.includes('<base href="/ops/pgflow/">'), asset: asset.status, assetType: asset.headers.get('content-type'), pgflow: overview.pgflow.installed, flows: overview.flows.map((flow) => flow.slug) }));
await dashboard.close();
server.close();
`;

describe('the packed dashboard', { timeout: 240_000 }, () => {
  let app: string;
  beforeAll(async () => {
    app = await installedApp('consumer');
  }, 300_000);

  it('ships the built front end and pgflow-orm/dashboard', async () => {
    const listing = execFileSync('tar', ['-tzf', await packedTarball()], { encoding: 'utf8' }).split('\n');
    expect(listing).toContain('package/dist/dashboard-ui/index.html');
    expect(listing.filter((file) => /^package\/dist\/dashboard-ui\/assets\/index-[\w-]+\.(js|css)$/.test(file))).toHaveLength(2);
    expect(listing).toContain('package/dist/src/dashboard/index.js');
    expect(listing).toContain('package/dist/src/dashboard/index.d.ts');
    // The front end's sources and build tooling stay out of the package.
    expect(listing.some((file) => file.includes('dashboard/ui/') && !file.startsWith('package/dist/dashboard-ui/'))).toBe(false);
  });

  it('serves the dashboard from an app that installed the package', async () => {
    await db.query(`select pgflow.create_flow('packed_dashboard')`);
    const work = workFolder(app, {
      'package.json': JSON.stringify({ type: 'module' }),
      'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, types: ['node'], outDir: 'dist' }, include: ['serve.ts'] }),
      'serve.ts': SCRIPT,
    });
    await runOk(join(work, 'node_modules', '.bin', 'tsc'), [], { cwd: work });
    const { stdout } = await runOk(process.execPath, ['dist/serve.js'], { cwd: work, env: { DATABASE_URL: db.url } });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      page: 200,
      base: true,
      asset: 200,
      assetType: 'text/javascript; charset=utf-8',
      pgflow: expect.stringMatching(/^\d+\.\d+\.\d+/),
      flows: ['packed_dashboard'],
    });
  });

  it('examples/dashboard builds with its own tsc and serves the dashboard from Express and Fastify', async () => {
    const work = workFolder(await installedApp('example-dashboard'), join(repoRoot, 'examples', 'dashboard'));
    await runOk(join(work, 'node_modules', '.bin', 'tsc'), [], { cwd: work });
    const { stdout } = await runOk(process.execPath, ['dist/main.js', '--check'], { cwd: work, env: { DATABASE_URL: db.url } });
    const [{ n }] = (await db.query<{ n: number }>(`select least(count(*), 5)::int as n from pgflow.runs`)) as [{ n: number }];
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      express: { page: 200, mounted: true, runs: n },
      fastify: { page: 200, mounted: true, runs: n },
    });
  }, 300_000);
});
