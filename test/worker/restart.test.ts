/**
 * A real server restart: a private embedded PostgreSQL (kept on disk) is
 * stopped while a worker has a handler in flight and a client waits for that
 * run, then started again on the same port and data directory. The worker's
 * result, held back while the server was down, is stored once it is back;
 * the client's wait resolves; new runs are claimed again through LISTEN.
 *
 * This file does not use the shared test server: restarting it would break
 * the other test files.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, type PgflowClient } from '../../src/client/index.js';
import { migratePgflow } from '../../src/drizzle/migrate.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/index.js';
import { Flow } from '../../src/flow/index.js';
import { startWorker, type WorkerHandle } from '../../src/worker/index.js';
import { deferred, memoryLogger, sleep, waitUntil } from './support.js';

let server: EmbeddedPostgres;
let url: string;

beforeAll(async () => {
  server = await startEmbeddedPostgres({ settings: { fsync: 'off' } });
  url = server.connectionString;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migratePgflow(drizzle(client));
  } finally {
    await client.end();
  }
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

it('worker and client carry on across a server restart; the result held during the outage is stored', async () => {
  const release = deferred();
  const inFlight = deferred();
  const flow = new Flow<{ i: number }>({ slug: 'restart' }).step({ slug: 'work' }, async ({ run }) => {
    if (run.i === 2) {
      inFlight.resolve();
      await release.promise;
    }
    return run.i * 10;
  });
  const logger = memoryLogger();
  let worker: WorkerHandle | undefined;
  let client: PgflowClient | undefined;
  try {
    worker = await startWorker({ connectionString: url, flows: [flow], logger, pollInterval: 60_000 });
    client = createClient({ connectionString: url, logger: memoryLogger() });
    expect(await client.runFlow(flow, { i: 1 }, { timeout: 10_000 })).toEqual({ work: 10 });

    const second = await client.startFlow(flow, { i: 2 });
    const waited = client.waitForRun(second.runId, { timeout: 60_000 });
    await inFlight.promise;

    await server.halt(); // keeps the data directory
    release.resolve(); // the handler finishes while the server is down: its result must wait
    await waitUntil('the worker to notice the outage', () => logger.messages('warn').some((message) => /unreachable|connection lost|cannot open/.test(message)));
    await sleep(500);
    await server.start();

    expect(await waited).toEqual({ work: 20 });
    // After the restart, a new run is picked up without the (one-minute) fallback poll.
    expect(await client.runFlow(flow, { i: 3 }, { timeout: 20_000 })).toEqual({ work: 30 });
    await waitUntil('the last completion to be counted', () => worker!.stats().completed === 3);
    expect(worker.stats()).toMatchObject({ claimed: 3, completed: 3, failed: 0 });
    expect(logger.messages('warn').some((message) => message.startsWith('cannot store 1 task result(s): database unreachable'))).toBe(true);
    expect(logger.messages('info')).toContain('notification connection restored');
    expect(logger.messages('error')).toEqual([]);
  } finally {
    await client?.close();
    await worker?.stop({ gracePeriod: 0 });
  }
}, 90_000);
