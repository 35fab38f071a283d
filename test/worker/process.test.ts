/**
 * A worker in its own process (node + tsx, as `npx pgflow-orm worker` will
 * run it): it completes runs, and on SIGTERM with work in flight it stops
 * claiming, lets the running handlers finish and stores their results, marks
 * itself stopped and exits with code 0. Another worker finishes the rest and
 * no task runs twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import { Flow } from '../../src/flow/index.js';
import { startWorker } from '../../src/worker/index.js';
import { useTestDatabase } from '../support/database.js';
import { memoryLogger, waitUntil } from './support.js';

const db = useTestDatabase();
const fixture = fileURLToPath(new URL('./fixtures/worker-process.ts', import.meta.url));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

function spawnWorker(slug: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, DATABASE_URL: db.url, FLOW_SLUG: slug, WORK_MS: '400' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

const logCount = async (event: string) =>
  (await db.query<{ count: number }>(`select count(*)::int as count from worker_process_log where event = $1`, [event]))[0]!.count;

it('a worker process finishes its running steps on SIGTERM, exits 0, and nothing is lost or run twice', async () => {
  await db.query(`create table worker_process_log (run_id uuid not null, event text not null, at timestamptz not null default clock_timestamp())`);
  const slug = 'process_flow';
  const worker = spawnWorker(slug);
  await waitUntil('the worker process to start', () => worker.output().includes('worker started'), 20_000);

  const sql = pgflowSql(db.pool);
  const runs = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => sql.startFlow(slug, { i })));
  await waitUntil('two steps to be running', async () => (await logCount('started')) >= 2);
  worker.child.kill('SIGTERM');

  const exit = await worker.exited;
  expect(exit, worker.output()).toEqual({ code: 0, signal: null });
  expect(worker.output()).toContain('SIGTERM received: finishing running steps');
  expect(worker.output()).toContain('worker process exiting');

  // Every step that had started finished and was stored; the rest is still queued, untouched.
  const started = await logCount('started');
  expect(await logCount('finished')).toBe(started);
  const tasks = await db.query<{ status: string; attempts: number; count: number }>(
    `select status, attempts_count as attempts, count(*)::int as count from pgflow.step_tasks where flow_slug = $1 group by 1, 2 order by 1`,
    [slug],
  );
  expect(tasks).toEqual([
    { status: 'completed', attempts: 1, count: started },
    { status: 'queued', attempts: 0, count: 6 - started },
  ]);
  const [registered] = await db.query(`select stopped_at from pgflow.workers where queue_name = $1`, [slug]);
  expect(registered?.stopped_at).toBeInstanceOf(Date);

  // A second worker (in this process) finishes the other runs; every run's step ran exactly once.
  const flow = new Flow<{ i: number }>({ slug }).step({ slug: 'work' }, async ({ run }, { runId }) => {
    await db.query('insert into worker_process_log (run_id, event) values ($1, $2)', [runId, 'started']);
    return run.i * 2;
  });
  const second = await startWorker({ connectionString: db.url, flows: [flow], logger: memoryLogger() });
  try {
    await waitUntil('all runs to complete', async () => {
      const [row] = await db.query<{ count: number }>(`select count(*)::int as count from pgflow.runs where flow_slug = $1 and status = 'completed'`, [slug]);
      return row!.count === 6;
    });
  } finally {
    await second.stop();
  }
  const perRun = await db.query<{ run_id: string; count: number }>(
    `select run_id, count(*)::int as count from worker_process_log where event = 'started' group by run_id order by run_id`,
  );
  expect(perRun.map((row) => row.run_id).sort()).toEqual(runs.map((run) => run.runId).sort());
  expect(perRun.every((row) => row.count === 1)).toBe(true);
  const outputs = await db.query<{ output: unknown }>(`select output from pgflow.runs where flow_slug = $1 order by (input->>'i')::int`, [slug]);
  expect(outputs.map((row) => row.output)).toEqual([1, 2, 3, 4, 5, 6].map((i) => ({ work: i * 2 })));
}, 60_000);
