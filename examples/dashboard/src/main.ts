/**
 * Starts both example apps: Express on http://127.0.0.1:3000/ and Fastify on
 * http://127.0.0.1:3001/, each with the dashboard at /admin/pgflow/, until
 * Ctrl-C. `node dist/main.js --check` instead starts them on free ports,
 * reads each dashboard's page and runs list, prints what it got as JSON, and
 * stops.
 *
 *   DATABASE_URL=postgres://... npm start
 */
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { createApp as createExpressApp } from './express.js';
import { createApp as createFastifyApp } from './fastify.js';

const check = process.argv.includes('--check');
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });

const express = createExpressApp(pool);
const expressServer = express.app.listen(check ? 0 : 3000, '127.0.0.1');
await new Promise((resolve) => expressServer.once('listening', resolve));
const fastify = createFastifyApp(pool);
await fastify.listen({ port: check ? 0 : 3001, host: '127.0.0.1' });

const urls = {
  express: `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}/admin/pgflow/`,
  fastify: `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}/admin/pgflow/`,
};

async function stop() {
  expressServer.closeAllConnections();
  expressServer.close();
  await express.dashboard.close();
  fastify.server.closeAllConnections();
  await fastify.close();
  await pool.end();
}

if (check) {
  const results: Record<string, unknown> = {};
  for (const [name, url] of Object.entries(urls)) {
    const page = await fetch(url);
    const runs = (await (await fetch(`${url}api/runs?limit=5`)).json()) as { runs: unknown[] };
    results[name] = { page: page.status, mounted: (await page.text()).includes('<base href="/admin/pgflow/">'), runs: runs.runs.length };
  }
  console.log(JSON.stringify(results));
  await stop();
} else {
  console.log(`Express: ${urls.express}\nFastify: ${urls.fastify}\nCtrl-C stops both`);
  process.once('SIGINT', () => void stop());
}
