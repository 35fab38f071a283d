/**
 * The Node worker (startWorker) and the client (createClient, runFlow,
 * getRun, onEvent) pointed at the coordinator of a distributed install,
 * unchanged: a flow with a map step and a retried step runs end to end, the
 * client's waitForRun is woken by the events LISTENed to on the coordinator,
 * and a failing run rejects with the step's error.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, RunFailedError, type PgflowEvent } from '../../src/client/index.js';
import { Flow } from '../../src/flow/index.js';
import { startWorker, type WorkerHandle } from '../../src/worker/index.js';
import { memoryLogger, waitUntil } from '../worker/support.js';
import { useCitusDatabase } from './support.js';

const db = useCitusDatabase();
const handles: WorkerHandle[] = [];
let failedOnce = false;

const orders = new Flow<{ items: number[]; customer: string }>({ slug: 'citus_orders', maxAttempts: 3, baseDelay: 0 })
  .array({ slug: 'validate' }, ({ run }) => {
    if (!failedOnce) {
      failedOnce = true;
      throw new Error('transient');
    }
    return run.items;
  })
  .map({ slug: 'price', array: 'validate' }, (n) => n * 2)
  .step({ slug: 'total', dependsOn: ['price'] }, ({ price }) => ({ count: price.length, sum: price.reduce((a, b) => a + b, 0) }));

const broken = new Flow<{ n: number }>({ slug: 'citus_broken', maxAttempts: 1 }).step({ slug: 'boom' }, () => {
  throw new Error('it broke');
});

afterAll(async () => {
  await Promise.all(handles.map((handle) => handle.stop({ gracePeriod: 0 })));
});

describe('startWorker and createClient against the coordinator', () => {
  it('run flows end to end, with retries, a map step, events and failures', async () => {
    handles.push(await startWorker({ connectionString: db.url, flows: [orders, broken], pollInterval: 60_000, logger: memoryLogger() }));
    handles.push(await startWorker({ connectionString: db.url, flows: [orders, broken], pollInterval: 60_000, logger: memoryLogger() }));
    const client = createClient(db.url);
    try {
      const seen: PgflowEvent[] = [];
      const unsubscribe = client.onEvent(orders, (event) => seen.push(event));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => client.runFlow(orders, { items: Array.from({ length: i + 1 }, (_, k) => k + 1), customer: `c${i}` }, { timeout: 60_000 })),
      );
      expect(results).toEqual(Array.from({ length: 10 }, (_, i) => ({ count: i + 1, sum: (i + 1) * (i + 2) })));
      await waitUntil('every run:completed event', () => seen.filter((e) => e.type === 'run:completed').length === 10 || undefined);
      unsubscribe();

      const failure = await client.runFlow(broken, { n: 1 }, { timeout: 60_000 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(RunFailedError);
      expect((failure as Error).message).toMatch(/it broke/);

      const [counts] = await db.query<{ retried: number; completed: number }>(
        `select count(*) filter (where attempts_count = 2)::int as retried, count(*) filter (where status = 'completed')::int as completed
         from pgflow.step_tasks where flow_slug = 'citus_orders'`,
      );
      expect(counts!.retried).toBe(1);
      // 10 validate, 55 price tasks (1 + 2 + ... + 10), 10 total
      expect(counts!.completed).toBe(75);
    } finally {
      await client.close();
    }
  });
});
