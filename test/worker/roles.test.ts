/**
 * The Node worker, client and status report connected as the roles pgflow's
 * access levels are for: an admin role defines the flow (ensureFlow), a
 * worker role runs it, a client role starts it and waits for its output, a
 * reader role reads the status report. A role without the level it needs
 * gets an error that says which level to grant.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { readStatus } from '../../src/cli/commands/status.js';
import { createClient, type PgflowClient } from '../../src/client/index.js';
import { toExecutor } from '../../src/core/connection.js';
import { ensureFlow, Flow } from '../../src/flow/index.js';
import { startWorker, type WorkerHandle } from '../../src/worker/index.js';
import { useTestDatabase } from '../support/database.js';
import { useLoginRoles } from '../support/roles.js';
import { memoryLogger, uniqueSlug } from './support.js';

const db = useTestDatabase();
const role = useLoginRoles(() => [db.name]);
const workers: WorkerHandle[] = [];
const clients: PgflowClient[] = [];
const pools: pg.Pool[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((handle) => handle.stop({ gracePeriod: 0 })));
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(pools.splice(0).map((pool) => pool.end()));
});

async function urlWith(level: 'worker' | 'client' | 'reader' | 'admin' | null): Promise<string> {
  const created = await role(level ?? 'none');
  if (level) await db.query(`select pgflow.grant_${level}($1)`, [created.name]);
  return created.urlFor(db.url);
}

function pool(url: string): pg.Pool {
  const created = new pg.Pool({ connectionString: url, max: 2 });
  pools.push(created);
  return created;
}

const greeting = () =>
  new Flow<{ name: string }>({ slug: uniqueSlug('greet') })
    .step({ slug: 'hello' }, (input) => `hello ${input.run.name}`)
    .step({ slug: 'shout', dependsOn: ['hello'] }, (input) => input.hello.toUpperCase());

describe('the Node side under access levels', () => {
  it('an admin defines the flow, a worker role runs it, a client role starts it and reads its output, a reader reads the status', async () => {
    const flow = greeting();
    const adminPool = pool(await urlWith('admin'));
    expect((await ensureFlow(adminPool, flow)).status).toBe('created');

    const worker = await startWorker({ connectionString: await urlWith('worker'), flows: [flow], pollInterval: 200, logger: memoryLogger() });
    workers.push(worker);
    const client = createClient({ connectionString: await urlWith('client') });
    clients.push(client);
    const run = await client.startFlow(flow, { name: 'ada' });
    expect(await client.waitForRun(run.runId, { timeout: 20_000 })).toEqual({ shout: 'HELLO ADA' });
    expect((await client.getRun(run.runId))?.run.status).toBe('completed');

    const status = await readStatus(toExecutor(pool(await urlWith('reader'))), { database: db.name, staleAfterSeconds: 30 });
    expect(status.pgflow.compatible).toBe(true);
    const flowStatus = status.flows.find((entry) => entry.slug === flow.slug);
    expect(flowStatus).toMatchObject({ steps: 2, runs: { completed: 1 }, queue: { visible: 0 } });
    expect(status.workers.live.map((entry) => entry.queueName)).toContain(flow.slug);
  });

  it('a worker role whose flow is not in the database is told to have it created by a role that may', async () => {
    const flow = greeting();
    const error = await startWorker({ connectionString: await urlWith('worker'), flows: [flow], logger: memoryLogger() }).then(
      (handle) => {
        workers.push(handle);
        throw new Error('the worker started');
      },
      (failure: Error) => failure,
    );
    expect(error.message).toContain(`flow "${flow.slug}" is not in the database`);
    expect(error.message).toMatch(/grant_admin|pgflow-orm compile/);
    expect(await db.query(`select * from pgflow.flows where flow_slug = $1`, [flow.slug])).toEqual([]);
  });

  it('a role without any level is told which level to grant', async () => {
    const flow = greeting();
    await ensureFlow(db.pool, flow);
    const url = await urlWith(null);
    const error = await startWorker({ connectionString: url, flows: [flow], logger: memoryLogger() }).then(
      (handle) => {
        workers.push(handle);
        throw new Error('the worker started');
      },
      (failure: Error) => failure,
    );
    expect(error.message).toMatch(/permission denied/);
    expect(error.message).toContain(`select pgflow.grant_worker('${new URL(url).username}')`);
    const client = createClient({ connectionString: url });
    clients.push(client);
    const clientError = await client.startFlow(flow, { name: 'x' }).then(
      () => new Error('started'),
      (failure: Error) => failure,
    );
    expect(clientError.message).toContain(`select pgflow.grant_client('${new URL(url).username}')`);
  });
});
