/**
 * `pgflow-orm worker <module>` as a child process: it creates the module's
 * flows, completes runs, and on SIGTERM lets the running handler finish,
 * marks itself stopped and exits 0. A flow that differs from the database
 * stops it at start with the differences.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { useTestDatabase } from '../support/database.js';
import { greet, slow } from './fixtures/flows.js';
import { cli, fixtures, startCli } from './support.js';

const db = useTestDatabase();
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

async function waitUntil<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('pgflow-orm worker', () => {
  it('runs the module’s flows, and on SIGTERM finishes the running step, marks itself stopped and exits 0', async () => {
    const worker = startCli(['worker', fixtures, '--flow', 'cli_greet', 'cli_slow', '--poll-interval', '200', '--grace-period', '20000'], {
      env: { DATABASE_URL: db.url },
    });
    closers.push(async () => {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    });
    await worker.waitFor(/worker started/);
    expect(worker.stderr()).toContain('flow "cli_greet" created in the database');
    expect(worker.stderr()).toContain('flow "cli_slow" created in the database');

    const client = createClient({ connectionString: db.url });
    closers.push(() => client.close());
    const names = ['ada', 'grace', 'edsger', 'barbara', 'ken'];
    const started = await Promise.all(names.map((name) => client.startFlow(greet, { name })));
    const outputs = await Promise.all(started.map((run) => client.waitForRun(run.runId, { timeout: 15_000 })));
    expect(outputs).toEqual(names.map((name) => ({ greeting: { message: `hello ${name.toUpperCase()}`, length: name.length } })));

    const nap = await client.startFlow(slow, { ms: 1500 });
    await waitUntil(async () => {
      const [task] = await db.query<{ status: string }>(`select status from pgflow.step_tasks where run_id = $1`, [nap.runId]);
      return task?.status === 'started' ? true : undefined;
    }, 'the slow step to start');
    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit, exit.stderr).toMatchObject({ code: 0, signal: null });
    expect(exit.stderr).toContain('SIGTERM received: finishing running steps');
    expect(exit.stderr).toMatch(/worker stopped \{"claimed":11,"completed":11,"failed":0,"cancelled":0\}/);
    expect(await db.query(`select status, output from pgflow.runs where run_id = $1`, [nap.runId])).toEqual([{ status: 'completed', output: { nap: { slept: 1500 } } }]);
    const workers = await db.query<{ queue_name: string; stopped: boolean }>(
      `select queue_name, stopped_at is not null as stopped from pgflow.workers order by queue_name`,
    );
    expect(workers).toEqual([
      { queue_name: 'cli_greet', stopped: true },
      { queue_name: 'cli_slow', stopped: true },
    ]);

    // Nothing takes work any more: a new run waits in the queue.
    const later = await client.startFlow(greet, { name: 'later' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await db.query(`select status from pgflow.step_tasks where run_id = $1`, [later.runId])).toEqual([{ status: 'queued' }]);
  });

  it('retries an unreachable database at start, and a SIGTERM meanwhile ends it with exit code 0', async () => {
    const worker = startCli(['worker', fixtures, '--database-url', 'postgres://someone:secret@127.0.0.1:1/app']);
    await worker.waitFor(/starting: database unreachable; retrying in \d+ ms/);
    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.stderr).toContain('SIGTERM received while starting: cancelling');
    expect(exit.stderr).toContain('stopped before the worker had started');
  });

  it('refuses to start when a flow in the database differs from the module, naming the differences', async () => {
    await db.query(`update pgflow.flows set opt_timeout = 99 where flow_slug = 'cli_greet'`);
    const result = await cli(['worker', fixtures, '--flow', 'cli_greet', '--database-url', db.url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('pgflow-orm: flow "cli_greet" in the database differs from its definition in code:\n  - flow timeout: database 99, code 5\n');
    expect(result.stderr).toContain('pass --ensure-flows recreate to delete the flow and its runs');
    const unknown = await cli(['worker', fixtures, '--flow', 'cli_nope', '--database-url', db.url]);
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toMatch(/exports no flow "cli_nope"; it exports "cli_greet", "cli_diamond", "cli_fanout", "cli_slow"\n$/);
  });
});
