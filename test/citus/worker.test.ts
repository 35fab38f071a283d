/**
 * The Node worker on a distributed install: two `startWorker`s pointed at the
 * coordinator drain runs of a diamond flow whose rows live on the worker
 * nodes. Every task runs once (a retried one twice, by design), every run
 * completes with the output its handlers compute, and nothing is left in the
 * queue. A client on the coordinator starts runs and waits for their outcome.
 */
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { RunFailedError } from '../../src/core/errors.js';
import { Flow } from '../../src/flow/flow.js';
import { startWorker, type WorkerHandle } from '../../src/worker/worker.js';
import { uniqueSlug } from '../engine/support.js';
import { useCitusDatabase } from './support.js';

const db = useCitusDatabase();
const RUNS = 100;

describe('startWorker on Citus', () => {
  it('drains runs spread over the worker nodes: each handler once per task, a failed attempt retried, outputs right', async () => {
    const slug = uniqueSlug('diamond');
    const calls = new Map<string, number>();
    const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1).get(key)!;
    const flow = new Flow<{ n: number }>({ slug, baseDelay: 1, maxAttempts: 2 })
      .step({ slug: 'start' }, ({ run }) => {
        // Every tenth run's first step fails on its first attempt and succeeds on the retry.
        if (count(`start/${run.n}`) === 1 && run.n % 10 === 0) throw new Error(`transient failure of run ${run.n}`);
        return { n: run.n };
      })
      .step({ slug: 'left', dependsOn: ['start'] }, ({ run, start }) => (count(`left/${run.n}`), start.n + 1))
      .step({ slug: 'right', dependsOn: ['start'] }, ({ run, start }) => (count(`right/${run.n}`), start.n * 2))
      .step({ slug: 'join', dependsOn: ['left', 'right'] }, ({ run, left, right }) => (count(`join/${run.n}`), left + right));

    const workers: WorkerHandle[] = [];
    try {
      for (let i = 0; i < 2; i++) workers.push(await startWorker({ connectionString: db.url, flows: [flow], concurrency: 20, batchSize: 10 }));
      for (let n = 0; n < RUNS; n++) await db.query(`select pgflow.start_flow($1::text, $2::jsonb)`, [slug, JSON.stringify({ n })]);
      const deadline = Date.now() + 120_000;
      for (;;) {
        const [left] = await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = $1 and status = 'started'`, [slug]);
        if (left!.n === 0 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }

    const runs = await db.query<{ status: string; n: number; output: unknown }>(
      `select status, (input ->> 'n')::int as n, output from pgflow.runs where flow_slug = $1 order by 2`,
      [slug],
    );
    expect(runs).toHaveLength(RUNS);
    for (const run of runs) expect(run).toEqual({ status: 'completed', n: run.n, output: { join: run.n + 1 + run.n * 2 } });
    for (let n = 0; n < RUNS; n++) {
      expect({ n, start: calls.get(`start/${n}`), left: calls.get(`left/${n}`), right: calls.get(`right/${n}`), join: calls.get(`join/${n}`) }).toEqual({
        n,
        start: n % 10 === 0 ? 2 : 1,
        left: 1,
        right: 1,
        join: 1,
      });
    }
    const [tasks] = await db.query<{ all: number; completed: number; retried: number }>(
      `select count(*)::int as all, count(*) filter (where status = 'completed')::int as completed,
              count(*) filter (where attempts_count = 2)::int as retried
       from pgflow.step_tasks where flow_slug = $1`,
      [slug],
    );
    expect(tasks).toEqual({ all: RUNS * 4, completed: RUNS * 4, retried: RUNS / 10 });
    expect(await db.query(`select msg_id from pgmq."q_${slug}"`)).toEqual([]);
  });

  it('lets a client on the coordinator start runs and wait for their output or their failure', async () => {
    const slug = uniqueSlug('client');
    const flow = new Flow<{ n: number }>({ slug, maxAttempts: 1 })
      .step({ slug: 'double' }, ({ run }) => {
        if (run.n < 0) throw new Error(`negative input ${run.n}`);
        return run.n * 2;
      })
      .step({ slug: 'report', dependsOn: ['double'] }, ({ double }) => ({ doubled: double }));
    const worker = await startWorker({ connectionString: db.url, flows: [flow] });
    const client = createClient(db.url);
    try {
      expect(await client.runFlow(flow, { n: 21 }, { timeout: 30_000 })).toEqual({ report: { doubled: 42 } });
      const failed = await client.runFlow(flow, { n: -1 }, { timeout: 30_000 }).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(RunFailedError);
      expect((failed as RunFailedError).message).toContain('negative input -1');
      const started = await client.startFlow(flow, { n: 5 });
      await client.waitForRun(started.runId, { timeout: 30_000 });
      expect(await client.getRun(started.runId)).toMatchObject({ run: { status: 'completed', output: { report: { doubled: 10 } } } });
    } finally {
      await client.close();
      await worker.stop();
    }
  });
});
