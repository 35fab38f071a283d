/**
 * The worker in-process against a real database: handler inputs and context,
 * registration and heartbeats, LISTEN-driven claiming (the fallback poll is
 * set to a minute, so anything that happens sooner was woken by an event or
 * a timer), the concurrency limit, retries with the real backoff, start
 * delays, timeouts, non-JSON outputs, graceful shutdown with work in flight,
 * and a lost database connection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import { Flow, FlowDriftError, ensureFlow, type StepContext } from '../../src/flow/index.js';
import { startWorker, StepTimeoutError, WorkerShutdownError, type WorkerHandle, type WorkerOptions } from '../../src/worker/index.js';
import { useTestDatabase, withAdminClient } from '../support/database.js';
import { deferred, memoryLogger, sleep, uniqueSlug, waitUntil } from './support.js';

const db = useTestDatabase();
const workers: WorkerHandle[] = [];

async function worker(options: Omit<WorkerOptions, 'connectionString'> & { connectionString?: string }): Promise<WorkerHandle> {
  const handle = await startWorker({ connectionString: db.url, pollInterval: 60_000, logger: memoryLogger(), ...options });
  workers.push(handle);
  return handle;
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((handle) => handle.stop({ gracePeriod: 0 })));
});

const runStatus = async (runId: string) => (await db.query<{ status: string }>(`select status from pgflow.runs where run_id = $1`, [runId]))[0]?.status;
const runFinished = (runId: string) => async () => {
  const status = await runStatus(runId);
  return status === 'completed' || status === 'failed' ? status : undefined;
};

describe('worker', () => {
  it('runs a fan-out / fan-in flow: handlers get their direct dependencies and a context; the run ends with the leaf outputs', async () => {
    const slug = uniqueSlug('diamond');
    const seen: Record<string, { input: unknown; context: Omit<StepContext, 'signal' | 'logger'> }> = {};
    const record = (input: unknown, { signal, logger, ...context }: StepContext) => {
      expect(signal.aborted).toBe(false);
      logger.info('running');
      seen[context.stepSlug] = { input, context };
    };
    const flow = new Flow<{ n: number }>({ slug })
      .step({ slug: 'start' }, (input, context) => {
        record(input, context);
        return { n: input.run.n + 1 };
      })
      .step({ slug: 'left', dependsOn: ['start'] }, async (input, context) => {
        record(input, context);
        return input.start.n * 2;
      })
      .step({ slug: 'right', dependsOn: ['start'] }, (input, context) => {
        record(input, context);
        return [input.start.n];
      })
      .step({ slug: 'join', dependsOn: ['left', 'right'] }, (input, context) => {
        record(input, context);
        return { total: input.left + input.right.length };
      })
      .step({ slug: 'side', dependsOn: ['start'] }, (input, context) => {
        record(input, context);
      });
    const logger = memoryLogger();
    const handle = await worker({ flows: [flow], logger, heartbeatInterval: 50 });
    const workerId = handle.workerIds[slug]!;

    // The flow was created at start; the run is started after the worker has gone idle.
    await sleep(50);
    const run = await pgflowSql(db.pool).startFlow(slug, { n: 1 });
    expect(await waitUntil('the run to finish', runFinished(run.runId))).toBe('completed');

    const [finished] = await db.query(`select output from pgflow.runs where run_id = $1`, [run.runId]);
    expect(finished?.output).toEqual({ join: { total: 5 }, side: null });
    expect(seen.start?.input).toEqual({ run: { n: 1 } });
    expect(seen.left?.input).toEqual({ run: { n: 1 }, start: { n: 2 } });
    expect(seen.join?.input).toEqual({ run: { n: 1 }, left: 4, right: [2] });
    expect(seen.join?.context).toEqual({ runId: run.runId, flowSlug: slug, stepSlug: 'join', taskIndex: 0, attempt: 1 });
    const running = logger.entries.find((entry) => entry.message === 'running' && entry.fields?.stepSlug === 'left');
    expect(running?.fields).toEqual({ flowSlug: slug, stepSlug: 'left', runId: run.runId, attempt: 1 });
    expect(await db.query(`select distinct last_worker_id from pgflow.step_tasks where run_id = $1`, [run.runId])).toEqual([{ last_worker_id: workerId }]);
    // The run is complete in the database a moment before the worker has read complete_tasks' answer.
    await waitUntil('the completions to be counted', () => handle.stats().completed === 5);
    expect(handle.stats()).toMatchObject({ claimed: 5, completed: 5, failed: 0, running: 0 });

    // Registered for the flow's queue, heartbeating, and marked stopped at the end.
    const registered = async () =>
      (await db.query<{ queue_name: string; function_name: string; started_at: Date; last_heartbeat_at: Date; stopped_at: Date | null }>(
        `select queue_name, function_name, started_at, last_heartbeat_at, stopped_at from pgflow.workers where worker_id = $1`,
        [workerId],
      ))[0]!;
    const before = await registered();
    expect(before).toMatchObject({ queue_name: slug, function_name: 'pgflow-orm', stopped_at: null });
    await waitUntil('a heartbeat', async () => (await registered()).last_heartbeat_at > before.last_heartbeat_at);
    await handle.stop();
    expect((await registered()).stopped_at).toBeInstanceOf(Date);
  });

  it('never runs more handlers at once than its concurrency, across flows (on an app-provided pool)', async () => {
    let active = 0;
    let highest = 0;
    const handler = async () => {
      active++;
      highest = Math.max(highest, active);
      await sleep(150);
      active--;
      return null;
    };
    const first = new Flow({ slug: uniqueSlug('busy') }).step({ slug: 'work' }, handler);
    const second = new Flow({ slug: uniqueSlug('busy') }).step({ slug: 'work' }, handler);
    // This worker uses the app's pool instead of a connection string.
    const handle = await worker({ pool: db.pool, connectionString: undefined, flows: [first, second], concurrency: 3, batchSize: 2 });
    const sql = pgflowSql(db.pool);
    const runs = await Promise.all(Array.from({ length: 12 }, (_, index) => sql.startFlow((index % 2 ? first : second).slug, {})));
    for (const run of runs) expect(await waitUntil('a run to finish', runFinished(run.runId))).toBe('completed');
    expect(highest).toBe(3);
    await handle.stop();
    // The app's pool is still usable afterwards.
    expect(await db.query('select 1 as one')).toEqual([{ one: 1 }]);
  });

  it('shares the work between two workers: every task runs exactly once', async () => {
    const executions: string[] = [];
    const record = (stepSlug: string, runId: string) => executions.push(`${runId}/${stepSlug}`);
    const flow = new Flow<{ i: number }>({ slug: uniqueSlug('shared') })
      .step({ slug: 'a' }, ({ run }, { runId }) => {
        record('a', runId);
        return run.i;
      })
      .step({ slug: 'b', dependsOn: ['a'] }, ({ a }, { runId }) => {
        record('b', runId);
        return a + 1;
      })
      .step({ slug: 'c', dependsOn: ['b'] }, ({ b }, { runId }) => {
        record('c', runId);
        return b + 1;
      });
    const first = await worker({ flows: [flow], concurrency: 4 });
    const second = await worker({ flows: [flow], concurrency: 4, batchSize: 2 });
    const sql = pgflowSql(db.pool);
    const runs = await Promise.all(Array.from({ length: 30 }, (_, i) => sql.startFlow(flow.slug, { i })));
    for (const run of runs) expect(await waitUntil('a run to finish', runFinished(run.runId))).toBe('completed');
    expect(executions).toHaveLength(90);
    expect(new Set(executions).size).toBe(90);
    await waitUntil('the completions to be counted', () => first.stats().completed + second.stats().completed === 90);
    const outputs = await db.query<{ output: { c: number } }>(`select output from pgflow.runs where flow_slug = $1 order by (input->>'i')::int`, [flow.slug]);
    expect(outputs.map((row) => row.output.c)).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
  });

  it('retries a failing step after the real backoff (base delay, then twice as long) and reports the attempt number', async () => {
    const attempts: { attempt: number; at: number }[] = [];
    const flow = new Flow({ slug: uniqueSlug('flaky'), baseDelay: 1, maxAttempts: 3 }).step({ slug: 'call' }, (_input, { attempt }) => {
      attempts.push({ attempt, at: Date.now() });
      if (attempt < 3) throw new Error(`flaky failure ${attempt}`);
      return 'ok';
    });
    const handle = await worker({ flows: [flow] });
    const run = await pgflowSql(db.pool).startFlow(flow.slug, {});
    expect(await waitUntil('the run to finish', runFinished(run.runId))).toBe('completed');

    expect(attempts.map((entry) => entry.attempt)).toEqual([1, 2, 3]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1_000);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(2_000);
    const [task] = await db.query(`select status, attempts_count, output from pgflow.step_tasks where run_id = $1`, [run.runId]);
    expect(task).toEqual({ status: 'completed', attempts_count: 3, output: 'ok' });
    await waitUntil('the completion to be counted', () => handle.stats().completed === 1);
    expect(handle.stats()).toMatchObject({ claimed: 3, completed: 1, failed: 2 });
  });

  it("fails the run with the handler's error message once the attempts are exhausted", async () => {
    let calls = 0;
    const flow = new Flow({ slug: uniqueSlug('broken'), baseDelay: 0, maxAttempts: 2 })
      .step({ slug: 'first' }, () => {
        calls++;
        throw new Error('payment declined');
      })
      .step({ slug: 'never', dependsOn: ['first'] }, () => 1);
    await worker({ flows: [flow] });
    const run = await pgflowSql(db.pool).startFlow(flow.slug, {});
    expect(await waitUntil('the run to finish', runFinished(run.runId))).toBe('failed');
    expect(calls).toBe(2);
    const steps = await db.query(`select step_slug, status, error_message from pgflow.step_states where run_id = $1 order by step_slug`, [run.runId]);
    expect(steps).toEqual([
      { step_slug: 'first', status: 'failed', error_message: 'payment declined' },
      { step_slug: 'never', status: 'created', error_message: null },
    ]);
  });

  it("aborts the handler's signal at the step timeout, fails the attempt and discards the late result", async () => {
    const aborted = deferred<unknown>();
    const flow = new Flow({ slug: uniqueSlug('slow'), maxAttempts: 1 }).step({ slug: 'wait', timeout: 1 }, async (_input, { signal }) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      aborted.resolve(signal.reason);
      return 'too late';
    });
    await worker({ flows: [flow] });
    const run = await pgflowSql(db.pool).startFlow(flow.slug, {});
    const reason = await aborted.promise;
    expect(reason).toBeInstanceOf(StepTimeoutError);
    expect(await waitUntil('the run to fail', runFinished(run.runId))).toBe('failed');
    const [task] = await db.query(`select status, error_message, output from pgflow.step_tasks where run_id = $1`, [run.runId]);
    expect(task).toEqual({ status: 'failed', error_message: 'step "wait" timed out after 1 s', output: null });
  });

  it('runs a step whose timeout is the largest the engine takes (2^31 - 1 s) without timing it out at once', async () => {
    // setTimeout cannot wait that long (it would fire after 1 ms), and timeout + 2 s does not fit an integer.
    const flow = new Flow({ slug: uniqueSlug('patient'), maxAttempts: 1 }).step({ slug: 'wait', timeout: 2_147_483_647 }, async (_input, { signal }) => {
      await sleep(200);
      return signal.aborted ? 'aborted' : 'waited';
    });
    const logger = memoryLogger();
    await worker({ flows: [flow], logger });
    const run = await pgflowSql(db.pool).startFlow(flow.slug, {});
    expect(await waitUntil('the run to finish', runFinished(run.runId))).toBe('completed');
    expect(await db.query(`select output from pgflow.runs where run_id = $1`, [run.runId])).toEqual([{ output: { wait: 'waited' } }]);
    expect(logger.messages('warn')).toEqual([]);
  });

  it('fails an attempt whose output is not JSON, saying what is wrong', async () => {
    const flow = new Flow({ slug: uniqueSlug('dated'), maxAttempts: 1 }).step({ slug: 'when' }, () => ({ at: new Date() }) as unknown as string);
    await worker({ flows: [flow] });
    const run = await pgflowSql(db.pool).startFlow(flow.slug, {});
    expect(await waitUntil('the run to fail', runFinished(run.runId))).toBe('failed');
    const [step] = await db.query<{ error_message: string }>(`select error_message from pgflow.step_states where run_id = $1`, [run.runId]);
    expect(step?.error_message).toBe(
      'the output of step "when" is not JSON-serialisable: $.at is a Date, which would arrive as a string; return date.toISOString()',
    );
  });

  it('fails an attempt whose output holds a NUL character, naming the step (the map task) and the path; the retry goes on normally', async () => {
    const attempts: Record<string, number> = {};
    const flow = new Flow({ slug: uniqueSlug('nul_output'), maxAttempts: 2, baseDelay: 0 })
      .array({ slug: 'text' }, (_input, { attempt }) => {
        attempts.text = attempt;
        return ['ok', attempt === 1 ? 'bin\u0000ary' : 'clean'];
      })
      .map({ slug: 'chars', array: 'text', maxAttempts: 1, retriesExhausted: 'skip' }, (_line, { taskIndex }) => (taskIndex === 1 ? { ['k\u0000']: 1 } : 'fine'));
    await worker({ flows: [flow] });
    const run = await pgflowSql(db.pool).startFlow(flow.slug, {});
    expect(await waitUntil('the run to finish', runFinished(run.runId))).toBe('completed');
    expect(attempts.text).toBe(2);
    const tasks = await db.query<{ step_slug: string; task_index: number; status: string; attempts_count: number; error_message: string | null }>(
      `select step_slug, task_index, status, attempts_count, error_message from pgflow.step_tasks
       where run_id = $1 and (step_slug, task_index) <> ('chars', 0) order by step_slug, task_index`,
      [run.runId],
    );
    // (Task 0 of the map may have been stopped by the skip before it completed.)
    expect(tasks).toEqual([
      {
        step_slug: 'chars',
        task_index: 1,
        status: 'failed',
        attempts_count: 1,
        error_message: 'the output of task 1 of map step "chars" is not JSON-serialisable: $["k\\u0000"] has a NUL character (\\u0000) in its key, which PostgreSQL cannot store in jsonb',
      },
      {
        step_slug: 'text',
        task_index: 0,
        status: 'completed',
        attempts_count: 2,
        // The last error is kept after the successful retry.
        error_message: 'the output of step "text" is not JSON-serialisable: $[1] contains a NUL character (\\u0000), which PostgreSQL cannot store in jsonb',
      },
    ]);
    expect(await db.query(`select output from pgflow.runs where run_id = $1`, [run.runId])).toEqual([{ output: {} }]);
  });

  it("records a handler's error message holding a NUL character with \\u0000 written out, instead of leaving the task to its timeout", async () => {
    const flow = new Flow({ slug: uniqueSlug('nul_error'), maxAttempts: 1, timeout: 600 }).step({ slug: 'parse' }, () => {
      throw new Error('unexpected byte \u0000 at offset 7');
    });
    const logger = memoryLogger();
    await worker({ flows: [flow], logger });
    const run = await pgflowSql(db.pool).startFlow(flow.slug, {});
    expect(await waitUntil('the run to fail', runFinished(run.runId))).toBe('failed');
    expect(await db.query(`select status, error_message from pgflow.step_tasks where run_id = $1`, [run.runId])).toEqual([
      { status: 'failed', error_message: 'unexpected byte \\u0000 at offset 7' },
    ]);
    expect(logger.messages('error')).toEqual([]);
  });

  it('stores falsy outputs as they are, and nothing as null', async () => {
    const flow = new Flow({ slug: uniqueSlug('falsy') })
      .step({ slug: 'zero' }, () => 0)
      .step({ slug: 'no' }, () => false)
      .step({ slug: 'empty' }, () => '')
      .step({ slug: 'nothing' }, () => {})
      .step({ slug: 'collect', dependsOn: ['zero', 'no', 'empty', 'nothing'] }, (input) => [input.zero, input.no, input.empty, input.nothing]);
    await worker({ flows: [flow] });
    const run = await pgflowSql(db.pool).startFlow(flow.slug, {});
    expect(await waitUntil('the run to finish', runFinished(run.runId))).toBe('completed');
    const [finished] = await db.query(`select output from pgflow.runs where run_id = $1`, [run.runId]);
    expect(finished?.output).toEqual({ collect: [0, false, '', null] });
  });

  it("starts a delayed step once its start delay has passed", async () => {
    const started: Record<string, number> = {};
    const flow = new Flow({ slug: uniqueSlug('delayed') })
      .step({ slug: 'first' }, () => {
        started.first = Date.now();
      })
      .step({ slug: 'later', dependsOn: ['first'], startDelay: 1 }, () => {
        started.later = Date.now();
      });
    await worker({ flows: [flow] });
    const run = await pgflowSql(db.pool).startFlow(flow.slug, {});
    expect(await waitUntil('the run to finish', runFinished(run.runId))).toBe('completed');
    expect(started.later! - started.first!).toBeGreaterThanOrEqual(1_000);
  });

  it('refuses to start when the flow in the database differs from the code', async () => {
    const slug = uniqueSlug('drifted');
    await ensureFlow(db.pool, new Flow({ slug, timeout: 30 }).step({ slug: 'a' }, () => 1));
    const changed = new Flow({ slug, timeout: 30 }).step({ slug: 'a' }, () => 1).step({ slug: 'b' }, () => 2);
    const error = await startWorker({ connectionString: db.url, flows: [changed], logger: memoryLogger() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FlowDriftError);
    expect((error as FlowDriftError).differences).toEqual([{ subject: 'step "b"', database: 'missing', code: 'defined (dependsOn [])' }]);
  });

  describe('stopping', () => {
    it('lets running handlers finish and stores their results, claims nothing new, and marks itself stopped', async () => {
      const executions: string[] = [];
      const started = deferred();
      // The first two handlers are held until stop() has been called, so nothing can free a slot before it.
      const release = deferred();
      const slug = uniqueSlug('graceful');
      const flow = new Flow<{ i: number }>({ slug }).step({ slug: 'work' }, async ({ run }, { runId }) => {
        executions.push(runId);
        if (executions.length === 2) started.resolve();
        await release.promise;
        return run.i;
      });
      const first = await worker({ flows: [flow], concurrency: 2, batchSize: 1 });
      const sql = pgflowSql(db.pool);
      const runs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => sql.startFlow(slug, { i })));
      await started.promise;
      const stopping = first.stop();
      await sleep(100);
      release.resolve();
      await stopping;
      expect(executions).toHaveLength(2);
      const counts = await db.query<{ status: string; count: number }>(
        `select status, count(*)::int as count from pgflow.step_tasks where flow_slug = $1 group by status order by status`,
        [slug],
      );
      expect(counts).toEqual([
        { status: 'completed', count: 2 },
        { status: 'queued', count: 4 },
      ]);
      const [row] = await db.query(`select stopped_at from pgflow.workers where worker_id = $1`, [first.workerIds[slug]]);
      expect(row?.stopped_at).toBeInstanceOf(Date);

      // Another worker finishes the rest; no task ran twice.
      await worker({ flows: [flow], concurrency: 4 });
      for (const run of runs) expect(await waitUntil('a run to finish', runFinished(run.runId))).toBe('completed');
      expect(executions.sort()).toEqual(runs.map((run) => run.runId).sort());
    });

    it('after the grace period aborts the signals; the attempts fail and are retried later', async () => {
      const started = deferred();
      const slug = uniqueSlug('stubborn');
      const flow = new Flow({ slug, maxAttempts: 3, baseDelay: 0 }).step({ slug: 'work' }, async (_input, { signal }) => {
        started.resolve();
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        throw signal.reason;
      });
      const handle = await worker({ flows: [flow], gracePeriod: 100 });
      const run = await pgflowSql(db.pool).startFlow(slug, {});
      await started.promise;
      await handle.stop();
      const [task] = await db.query(`select status, attempts_count, error_message from pgflow.step_tasks where run_id = $1`, [run.runId]);
      expect(task).toEqual({ status: 'queued', attempts_count: 1, error_message: new WorkerShutdownError().message });
      expect(await runStatus(run.runId)).toBe('started');
    });

    it('stops when its signal aborts', async () => {
      const controller = new AbortController();
      const handle = await worker({ flows: [new Flow({ slug: uniqueSlug('signalled') })], signal: controller.signal });
      controller.abort();
      await handle.done;
      const [row] = await db.query(`select stopped_at from pgflow.workers where worker_id = any($1::uuid[])`, [Object.values(handle.workerIds)]);
      expect(row?.stopped_at).toBeInstanceOf(Date);
    });
  });

  it('keeps serving its other flows while one of them fails to claim (backing off and logging)', async () => {
    const broken = new Flow({ slug: uniqueSlug('vanishing') }).step({ slug: 'a' }, () => 1);
    const healthy = new Flow({ slug: uniqueSlug('healthy') }).step({ slug: 'a' }, () => 2);
    const logger = memoryLogger();
    await worker({ flows: [broken, healthy], logger, pollInterval: 100 });
    // The first flow disappears from the database under the worker.
    for (const table of ['deps', 'steps', 'flows']) await db.query(`delete from pgflow.${table} where flow_slug = $1`, [broken.slug]);
    const failures = () => logger.entries.filter((entry) => entry.message.startsWith('claiming failed') && entry.fields?.flow === broken.slug).length;
    await waitUntil('four failed claims', () => failures() >= 4, 20_000);
    expect(logger.entries.find((entry) => entry.message.startsWith('claiming failed'))?.fields?.error).toBe(`flow "${broken.slug}" does not exist`);
    // The broken flow's next attempt is about three seconds away (backing off); the healthy flow does not wait for it:
    // its run completes before the broken flow tries again.
    const before = failures();
    const run = await pgflowSql(db.pool).startFlow(healthy.slug, {});
    expect(await waitUntil('the healthy run', runFinished(run.runId))).toBe('completed');
    expect(failures()).toBe(before);
  });

  it('survives a lost connection: logs, retries with backoff, and resumes when the database is back', async () => {
    const slug = uniqueSlug('outage');
    const flow = new Flow<{ i: number }>({ slug }).step({ slug: 'work' }, ({ run }) => run.i * 10);
    const logger = memoryLogger();
    const handle = await worker({ flows: [flow], logger, pollInterval: 100 });
    const admin = await db.connect();
    const sql = pgflowSql(admin);
    const before = await sql.startFlow(slug, { i: 1 });
    expect(await waitUntil('the first run', runFinished(before.runId))).toBe('completed');

    // The database refuses new connections and drops the worker's: an outage as far as the worker can tell.
    await withAdminClient((client) => client.query(`alter database "${db.name}" allow_connections false`));
    let during: string;
    try {
      await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name like 'pgflow-orm worker%'`, [db.name]);
      during = (await sql.startFlow(slug, { i: 2 })).runId;
      await waitUntil('the worker to notice', () => logger.messages('warn').some((message) => /database unreachable|connection lost/.test(message)));
      await sleep(300);
    } finally {
      await withAdminClient((client) => client.query(`alter database "${db.name}" allow_connections true`));
    }
    expect(await waitUntil('the run started during the outage', runFinished(during), 15_000)).toBe('completed');
    const [task] = (await admin.query(`select output from pgflow.step_tasks where run_id = $1`, [during])).rows;
    expect(task?.output).toBe(20);
    expect(logger.messages("error")).toEqual([]);
    await waitUntil('both completions to be counted', () => handle.stats().completed === 2);
  });
});
