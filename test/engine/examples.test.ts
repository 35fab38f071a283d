/**
 * The reference's examples and workflow patterns, end to end with real
 * workers (read → start_tasks → complete_task / fail_task), driven through the
 * typed wrappers `pgflowSql(db.pool)`; and the reference's worker sketch as a
 * PL/pgSQL worker, to show that any language can drive the engine.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { pgflowSql, type PgflowSql } from '../../src/core/sql-api.js';
import type { Json, StepTaskRecord } from '../../src/core/types.js';
import { newWorkerId, sleep, uniqueSlug } from './support.js';

const db = useTestDatabase();
const api = (): PgflowSql => pgflowSql(db.pool);

type Input = Record<string, Json>;

/** Thrown by a handler to fail its task; any other error (a failed expectation) stops the test. */
class StepFailure extends Error {}
type Handler = (task: StepTaskRecord<Input>, attempt: number) => unknown;

/**
 * One worker: read → start_tasks → handler → complete_task, or fail_task when
 * the handler throws a StepFailure; until the runs have finished.
 */
async function worker(flow: string, runIds: string[], handler: Handler, workerId = newWorkerId()): Promise<StepTaskRecord<Input>[]> {
  const sql = api();
  const seen: StepTaskRecord<Input>[] = [];
  const attempts = new Map<string, number>();
  const deadline = Date.now() + 20_000;
  for (;;) {
    const messages = await sql.readMessages(flow, 30, 5);
    const tasks = messages.length === 0 ? [] : await sql.startTasks<Input>(flow, messages.map((m) => m.msgId), workerId);
    for (const task of tasks) {
      seen.push(task);
      const key = `${task.runId}/${task.stepSlug}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      try {
        const output = await handler(task, attempt);
        await sql.completeTask({ runId: task.runId, stepSlug: task.stepSlug, taskIndex: task.taskIndex, output });
      } catch (error) {
        if (!(error instanceof StepFailure)) throw error;
        await sql.failTask({ runId: task.runId, stepSlug: task.stepSlug, taskIndex: task.taskIndex, errorMessage: (error as Error).message });
      }
    }
    if (tasks.length === 0) {
      const states = await Promise.all(runIds.map((id) => sql.getRunWithStates(id)));
      if (states.every((state) => state?.run.status !== 'started')) return seen;
      if (Date.now() > deadline) throw new Error(`${flow}: runs still open after 20 s`);
      await sleep(25);
    }
  }
}

describe('Example 1: simple linear workflow', () => {
  it('generate_report → send_email; the run output is the leaf’s output', async () => {
    const sql = api();
    const flow = uniqueSlug('email_report');
    expect(await sql.createFlow(flow, { maxAttempts: 3, baseDelay: 5, timeout: 120 })).toMatchObject({ optMaxAttempts: 3, optBaseDelay: 5, optTimeout: 120 });
    await sql.addStep(flow, 'generate_report');
    await sql.addStep(flow, 'send_email', { dependsOn: ['generate_report'] });
    const run = await sql.startFlow(flow, { recipient: 'user@example.com' });
    expect(run).toMatchObject({ flowSlug: flow, status: 'started', remainingSteps: 2 });

    const seen = await worker(flow, [run.runId], (task) => {
      if (task.stepSlug === 'generate_report') {
        expect(task.input).toEqual({ run: { recipient: 'user@example.com' } });
        return { report_url: 'https://example.com/report.pdf' };
      }
      expect(task.input).toEqual({ run: { recipient: 'user@example.com' }, generate_report: { report_url: 'https://example.com/report.pdf' } });
      return { email_sent: true, message_id: 'abc123' };
    });
    expect(seen.map((t) => t.stepSlug)).toEqual(['generate_report', 'send_email']);
    const [final] = await db.query(`SELECT status, output FROM pgflow.runs WHERE run_id = $1`, [run.runId]);
    expect(final).toEqual({ status: 'completed', output: { send_email: { email_sent: true, message_id: 'abc123' } } });
  });
});

describe('Example 2: workflow with parallel steps', () => {
  it('three workers process the parallel steps; store_results receives its direct dependencies’ outputs', async () => {
    const sql = api();
    const flow = uniqueSlug('image_processing');
    await db.query(`SELECT * FROM pgflow.create_flow('${flow}', 3, 2, 300)`);
    await db.query(`SELECT * FROM pgflow.add_step('${flow}', 'upload_image')`);
    await db.query(`SELECT * FROM pgflow.add_step('${flow}', 'create_thumbnail', ARRAY['upload_image'])`);
    await db.query(`SELECT * FROM pgflow.add_step('${flow}', 'extract_metadata', ARRAY['upload_image'])`);
    await db.query(`SELECT * FROM pgflow.add_step('${flow}', 'classify_image', ARRAY['upload_image'])`);
    await db.query(`SELECT * FROM pgflow.add_step('${flow}', 'store_results', ARRAY['create_thumbnail', 'extract_metadata', 'classify_image'])`);
    const run = await sql.startFlow(flow, { image_url: 'https://example.com/photo.jpg' });

    const outputs: Record<string, Json> = {
      upload_image: { stored_path: '/images/photo.jpg', size: 2048576 },
      create_thumbnail: { thumbnail_url: '/thumbs/photo.jpg' },
      extract_metadata: { width: 1920, height: 1080, exif: { camera: 'x' } },
      classify_image: { labels: ['outdoor', 'sunset', 'beach'] },
      store_results: { record_id: 42, indexed: true },
    };
    const inputs: Record<string, Input> = {};
    const handler: Handler = async (task) => {
      inputs[task.stepSlug] = task.input;
      await sleep(5);
      return outputs[task.stepSlug]!;
    };
    const workers = [newWorkerId(), newWorkerId(), newWorkerId(), newWorkerId()];
    const seen = (await Promise.all(workers.map((id) => worker(flow, [run.runId], handler, id)))).flat();
    expect(seen.map((t) => t.stepSlug).sort()).toEqual(Object.keys(outputs).sort());

    for (const slug of ['create_thumbnail', 'extract_metadata', 'classify_image']) {
      expect(inputs[slug], slug).toEqual({ run: { image_url: 'https://example.com/photo.jpg' }, upload_image: outputs.upload_image });
    }
    // Direct dependencies only (decision 5): upload_image is a transitive ancestor of store_results.
    expect(inputs.store_results).toEqual({
      run: { image_url: 'https://example.com/photo.jpg' },
      create_thumbnail: outputs.create_thumbnail,
      extract_metadata: outputs.extract_metadata,
      classify_image: outputs.classify_image,
    });
    const state = await sql.getRunWithStates(run.runId);
    expect(state!.run).toMatchObject({ status: 'completed', remaining_steps: 0, output: { store_results: outputs.store_results } });
    expect(state!.steps.map((s) => s.status)).toEqual(['completed', 'completed', 'completed', 'completed', 'completed']);
    const tasks = await db.query<{ last_worker_id: string }>(`select last_worker_id from pgflow.step_tasks where run_id = $1`, [run.runId]);
    for (const task of tasks) expect(workers).toContain(task.last_worker_id);
  });
});

describe('Example 3: error handling with retry', () => {
  it('fails twice (retry in 1 s, then 2 s) and succeeds on the third attempt', async () => {
    const sql = api();
    const flow = uniqueSlug('api_sync');
    await db.query(`SELECT * FROM pgflow.create_flow('${flow}', 5, 1, 30)`);
    await db.query(`SELECT * FROM pgflow.add_step('${flow}', 'fetch_data')`);
    const run = await sql.startFlow(flow, { endpoint: '/api/users' });
    const startedAt: number[] = [];
    const errors = ['Connection timeout', 'HTTP 429 Too Many Requests'];
    const seen = await worker(flow, [run.runId], async (task, attempt) => {
      startedAt.push(Date.now());
      expect(task.input).toEqual({ run: { endpoint: '/api/users' } });
      if (attempt <= errors.length) {
        const [stored] = await db.query(`select status, attempts_count from pgflow.step_tasks where run_id = $1`, [run.runId]);
        expect(stored).toEqual({ status: 'started', attempts_count: attempt });
        throw new StepFailure(errors[attempt - 1]);
      }
      return { users: [{ id: 1 }], count: 150 };
    });
    expect(seen).toHaveLength(3);
    // The first retry waits base_delay (1 s), the second twice that (decision 1).
    expect(startedAt[1]! - startedAt[0]!).toBeGreaterThanOrEqual(900);
    expect(startedAt[2]! - startedAt[1]!).toBeGreaterThanOrEqual(1900);
    const [task] = await db.query(`select status, attempts_count, output from pgflow.step_tasks where run_id = $1`, [run.runId]);
    expect(task).toEqual({ status: 'completed', attempts_count: 3, output: { users: [{ id: 1 }], count: 150 } });
    expect((await sql.getRunWithStates(run.runId))!.run).toMatchObject({ status: 'completed', output: { fetch_data: { users: [{ id: 1 }], count: 150 } } });
  });

  it('the retry schedule of the reference (base_delay 2: 2 s, 4 s, 8 s, 16 s) shows in the message visibility', async () => {
    const sql = api();
    const flow = uniqueSlug('my_flow');
    await db.query(`SELECT * FROM pgflow.create_flow('${flow}', max_attempts := 5, base_delay := 2)`);
    await sql.addStep(flow, 'step');
    const run = await sql.startFlow(flow, {});
    const workerId = newWorkerId();
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const messages = await sql.readMessages(flow, 30, 1);
      expect(messages, `attempt ${attempt}`).toHaveLength(1);
      const [task] = await sql.startTasks(flow, [messages[0]!.msgId], workerId);
      const failed = await sql.failTask({ runId: task!.runId, stepSlug: 'step', errorMessage: `attempt ${attempt}` });
      if (attempt < 5) {
        expect(failed).toMatchObject({ status: 'queued', attemptsCount: attempt });
        const [row] = await db.query<{ s: number }>(`select extract(epoch from vt - clock_timestamp())::float8 as s from pgmq.q_${flow} where msg_id = $1`, [
          messages[0]!.msgId,
        ]);
        delays.push(Math.ceil(row!.s));
        await db.query(`select pgmq.set_vt($1, $2::bigint, 0)`, [flow, messages[0]!.msgId]);
      } else {
        expect(failed).toMatchObject({ status: 'failed', attemptsCount: 5 });
      }
    }
    expect(delays).toEqual([2, 4, 8, 16]);
    expect((await sql.getRunWithStates(run.runId))!.run.status).toBe('failed');
  });
});

describe('workflow patterns', () => {
  it('linear pipeline: step1 → step2 → step3', async () => {
    const sql = api();
    const flow = uniqueSlug('pipeline');
    await sql.createFlow(flow);
    await db.query(`SELECT * FROM pgflow.add_step('${flow}', 'step1')`);
    await db.query(`SELECT * FROM pgflow.add_step('${flow}', 'step2', ARRAY['step1'])`);
    await db.query(`SELECT * FROM pgflow.add_step('${flow}', 'step3', ARRAY['step2'])`);
    const runs = [await sql.startFlow(flow, { n: 1 }), await sql.startFlow(flow, { n: 2 })];
    const seen = await worker(flow, runs.map((r) => r.runId), (task) => {
      const n = (task.input.run as { n: number }).n;
      if (task.stepSlug === 'step1') return n;
      if (task.stepSlug === 'step2') return (task.input.step1 as number) * 10;
      expect(task.input).not.toHaveProperty('step1');
      return (task.input.step2 as number) + 1;
    });
    expect(seen).toHaveLength(6);
    for (const [index, run] of runs.entries()) {
      expect((await sql.getRunWithStates(run.runId))!.run).toMatchObject({ status: 'completed', output: { step3: (index + 1) * 10 + 1 } });
    }
  });

  it('fan-out / fan-in: split → process_a, process_b, process_c → merge', async () => {
    const sql = api();
    const flow = uniqueSlug('fan');
    await sql.createFlow(flow);
    await sql.addStep(flow, 'split');
    for (const slug of ['process_a', 'process_b', 'process_c']) await sql.addStep(flow, slug, { dependsOn: ['split'] });
    await sql.addStep(flow, 'merge', { dependsOn: ['process_a', 'process_b', 'process_c'] });
    const run = await sql.startFlow(flow, { items: [1, 2, 3] });
    const order: string[] = [];
    await Promise.all(
      [newWorkerId(), newWorkerId()].map((id) =>
        worker(
          flow,
          [run.runId],
          (task) => {
            order.push(task.stepSlug);
            if (task.stepSlug === 'split') return (task.input.run as { items: number[] }).items;
            if (task.stepSlug === 'merge') {
              expect(Object.keys(task.input).sort()).toEqual(['process_a', 'process_b', 'process_c', 'run']);
              return Object.values(task.input).filter((v): v is number => typeof v === 'number').reduce((a, b) => a + b, 0);
            }
            const items = task.input.split as number[];
            return items[['process_a', 'process_b', 'process_c'].indexOf(task.stepSlug)]! * 100;
          },
          id,
        ),
      ),
    );
    expect(order[0]).toBe('split');
    expect(order.at(-1)).toBe('merge');
    expect(order).toHaveLength(5);
    expect((await sql.getRunWithStates(run.runId))!.run).toMatchObject({ status: 'completed', output: { merge: 600 } });
  });

  it('diamond: start → branch_a, branch_b → join', async () => {
    const sql = api();
    const flow = uniqueSlug('diamond');
    await sql.createFlow(flow);
    await sql.addStep(flow, 'start');
    await sql.addStep(flow, 'branch_a', { dependsOn: ['start'] });
    await sql.addStep(flow, 'branch_b', { dependsOn: ['start'] });
    await sql.addStep(flow, 'join', { dependsOn: ['branch_a', 'branch_b'] });
    const runs = await Promise.all([1, 2, 3].map((x) => sql.startFlow(flow, { x })));
    await Promise.all(
      [newWorkerId(), newWorkerId(), newWorkerId()].map((id) =>
        worker(
          flow,
          runs.map((r) => r.runId),
          (task) => {
            const x = (task.input.run as { x: number }).x;
            switch (task.stepSlug) {
              case 'start':
                return { x };
              case 'branch_a':
                return { a: (task.input.start as { x: number }).x + 1 };
              case 'branch_b':
                return { b: (task.input.start as { x: number }).x * 2 };
              default:
                expect(task.input).not.toHaveProperty('start');
                return { sum: (task.input.branch_a as { a: number }).a + (task.input.branch_b as { b: number }).b };
            }
          },
          id,
        ),
      ),
    );
    for (const run of runs) {
      const x = (run.input as { x: number }).x;
      const state = await sql.getRunWithStates(run.runId);
      expect(state!.run).toMatchObject({ status: 'completed', remaining_steps: 0, output: { join: { sum: x + 1 + x * 2 } } });
    }
  });
});

describe('a worker in PL/pgSQL (the reference’s worker sketch)', () => {
  it('registers, polls, starts, completes and stops, all in SQL', async () => {
    const flow = uniqueSlug('plpgsql_flow');
    await db.query(`select pgflow.create_flow($1)`, [flow]);
    await db.query(`select pgflow.add_step($1, 'extract')`, [flow]);
    await db.query(`select pgflow.add_step($1, 'load', ARRAY['extract'])`, [flow]);
    const [run] = await db.query<{ run_id: string }>(`select * from pgflow.start_flow($1, '{"rows": 3}'::jsonb)`, [flow]);
    await db.query(`
      DO $$
      DECLARE
        v_worker_id uuid := gen_random_uuid();
        v_queue_name text := '${flow}';
        v_messages bigint[];
        v_task pgflow.step_task_record;
        v_output jsonb;
      BEGIN
        INSERT INTO pgflow.workers (worker_id, queue_name, function_name, started_at, last_heartbeat_at)
        VALUES (v_worker_id, v_queue_name, 'example_worker', now(), now());
        LOOP
          SELECT array_agg(msg_id) INTO v_messages FROM pgmq.read(v_queue_name, 60, 10);
          EXIT WHEN v_messages IS NULL OR array_length(v_messages, 1) = 0;
          FOR v_task IN SELECT * FROM pgflow.start_tasks(v_queue_name, v_messages, v_worker_id)
          LOOP
            BEGIN
              v_output := jsonb_build_object(
                'step', v_task.step_slug,
                'keys', (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(v_task.input) AS k),
                'rows', (v_task.input -> 'run' ->> 'rows')::int);
              PERFORM pgflow.complete_task(v_task.run_id, v_task.step_slug, 0, v_output);
            EXCEPTION WHEN OTHERS THEN
              PERFORM pgflow.fail_task(v_task.run_id, v_task.step_slug, 0, SQLERRM);
            END;
          END LOOP;
          UPDATE pgflow.workers SET last_heartbeat_at = now() WHERE worker_id = v_worker_id;
        END LOOP;
        UPDATE pgflow.workers SET stopped_at = now() WHERE worker_id = v_worker_id;
      END;
      $$;
    `);
    const [final] = await db.query(`select status, output from pgflow.runs where run_id = $1`, [run!.run_id]);
    expect(final).toEqual({ status: 'completed', output: { load: { step: 'load', keys: ['extract', 'run'], rows: 3 } } });
    const workers = await db.query<{ worker_id: string; stopped_at: Date | null }>(`select worker_id, stopped_at from pgflow.workers where queue_name = $1`, [flow]);
    expect(workers).toHaveLength(1);
    expect(workers[0]!.stopped_at).toBeInstanceOf(Date);
    const tasks = await db.query<{ last_worker_id: string }>(`select last_worker_id from pgflow.step_tasks where run_id = $1`, [run!.run_id]);
    expect(tasks.map((t) => t.last_worker_id)).toEqual([workers[0]!.worker_id, workers[0]!.worker_id]);
  });
});
