/**
 * pgflow.start_flow: the run row, one step state per step, root tasks queued
 * as messages in the queue named after the flow, nothing queued for steps that
 * wait, input validation, optional run_id, empty flows, start_delay.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import {
  defineFlow,
  diamondSteps,
  errorOf,
  getRun,
  queueRows,
  readMessages,
  sleep,
  startFlow,
  stepStates,
  stepTasks,
  uniqueSlug,
  type MessageRow,
  type RunRow,
} from './support.js';

const db = useTestDatabase();

const runCount = async (flow: string) =>
  (await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = $1`, [flow]))[0]!.n;

describe('pgflow.start_flow', () => {
  it('creates the run with its input and remaining_steps = number of steps', async () => {
    const flow = await defineFlow(db, uniqueSlug('diamond'), { steps: diamondSteps });
    const input = { source: 's3://bucket/data.csv', format: 'csv', nested: { n: [1, 2] } };
    const [run] = await db.query<RunRow>(`SELECT * FROM pgflow.start_flow(flow_slug := $1, input := $2::jsonb)`, [flow, JSON.stringify(input)]);
    expect(run).toMatchObject({
      flow_slug: flow,
      status: 'started',
      input,
      output: null,
      remaining_steps: 4,
      completed_at: null,
      failed_at: null,
    });
    expect(run!.run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(run!.started_at).toBeInstanceOf(Date);
    expect(await getRun(db, run!.run_id)).toEqual(run);
  });

  it('creates a step state per step with remaining_deps; root steps are started, the others created with remaining_tasks NULL', async () => {
    const flow = await defineFlow(db, uniqueSlug('diamond'), { steps: diamondSteps });
    const run = await startFlow(db, flow, { x: 1 });
    const states = await stepStates(db, run.run_id);
    expect(Object.keys(states).sort()).toEqual(['branch_a', 'branch_b', 'join', 'start']);
    expect(states.start).toMatchObject({ flow_slug: flow, status: 'started', remaining_deps: 0, remaining_tasks: 1, completed_at: null, failed_at: null });
    expect(states.start!.started_at).toBeInstanceOf(Date);
    for (const [slug, deps] of [
      ['branch_a', 1],
      ['branch_b', 1],
      ['join', 2],
    ] as const) {
      expect(states[slug], slug).toMatchObject({ status: 'created', remaining_deps: deps, remaining_tasks: null, started_at: null, error_message: null });
    }
  });

  it('queues exactly the root tasks as messages {flow_slug, run_id, step_slug, task_index} that pgmq.read returns', async () => {
    const flow = await defineFlow(db, uniqueSlug('roots'), {
      steps: [{ slug: 'r1' }, { slug: 'r2' }, { slug: 'child', deps: ['r1'] }, { slug: 'grandchild', deps: ['child', 'r2'] }],
    });
    const run = await startFlow(db, flow, { hello: 'world' });

    const tasks = await stepTasks(db, run.run_id);
    expect(Object.keys(tasks).sort()).toEqual(['r1', 'r2']);
    for (const slug of ['r1', 'r2']) {
      expect(tasks[slug], slug).toMatchObject({
        flow_slug: flow,
        run_id: run.run_id,
        task_index: 0,
        status: 'queued',
        attempts_count: 0,
        error_message: null,
        output: null,
        started_at: null,
        last_worker_id: null,
      });
      expect(tasks[slug]!.message_id).not.toBeNull();
    }

    const messages = await db.query<MessageRow>(`select * from pgmq.read('${flow}', 30, 10)`);
    expect(messages).toHaveLength(2);
    const bySlug = Object.fromEntries(messages.map((m) => [m.message.step_slug, m]));
    for (const slug of ['r1', 'r2']) {
      expect(bySlug[slug]!.message).toEqual({ flow_slug: flow, run_id: run.run_id, step_slug: slug, task_index: 0 });
      expect(bySlug[slug]!.msg_id).toBe(tasks[slug]!.message_id);
      expect(bySlug[slug]!.read_ct).toBe(1);
    }
    // Nothing else is in the queue: the waiting steps have no message.
    expect((await queueRows(db, flow)).map((m) => m.message.step_slug).sort()).toEqual(['r1', 'r2']);
  });

  it('a run of another flow, or another run, gets its own messages', async () => {
    const one = await defineFlow(db, uniqueSlug('one'), { steps: ['a'] });
    const two = await defineFlow(db, uniqueSlug('two'), { steps: ['a'] });
    const runs = [await startFlow(db, one), await startFlow(db, one), await startFlow(db, two)];
    const fromOne = await readMessages(db, one);
    expect(fromOne.map((m) => m.message.run_id).sort()).toEqual([runs[0]!.run_id, runs[1]!.run_id].sort());
    const fromTwo = await readMessages(db, two);
    expect(fromTwo.map((m) => m.message.run_id)).toEqual([runs[2]!.run_id]);
  });

  it('accepts the caller’s run_id', async () => {
    const flow = await defineFlow(db, uniqueSlug('with_id'), { steps: ['a'] });
    const runId = randomUUID();
    const [run] = await db.query<RunRow>(`select * from pgflow.start_flow($1, '{}'::jsonb, $2::uuid)`, [flow, runId]);
    expect(run!.run_id).toBe(runId);
    const [named] = await db.query<RunRow>(`select * from pgflow.start_flow(flow_slug => $1, input => '{}'::jsonb, run_id => $2::uuid)`, [
      flow,
      randomUUID(),
    ]);
    expect(named!.status).toBe('started');
    const [message] = await readMessages(db, flow, 30, 1);
    expect(message!.message.run_id).toBe(runId);
    // NULL run_id: a fresh one.
    const [generated] = await db.query<RunRow>(`select * from pgflow.start_flow($1, '{}'::jsonb, null)`, [flow]);
    expect(generated!.run_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a run_id that already exists, with a clear error and nothing created', async () => {
    const flow = await defineFlow(db, uniqueSlug('dup_id'), { steps: ['a'] });
    const runId = randomUUID();
    await db.query(`select * from pgflow.start_flow($1, '{}'::jsonb, $2::uuid)`, [flow, runId]);
    const error = await errorOf(() => db.query(`select * from pgflow.start_flow($1, '{"again": true}'::jsonb, $2::uuid)`, [flow, runId]));
    expect(error.code).toBe('23505');
    expect(error.message).toContain(runId);
    expect(await runCount(flow)).toBe(1);
    expect(await queueRows(db, flow)).toHaveLength(1);
  });

  it('requires a JSON object as input: a clear error otherwise, and nothing created', async () => {
    const flow = await defineFlow(db, uniqueSlug('input'), { steps: ['a'] });
    for (const [literal, kind] of [
      [`'[1, 2]'::jsonb`, 'array'],
      [`'"text"'::jsonb`, 'string'],
      [`'42'::jsonb`, 'number'],
      [`'true'::jsonb`, 'boolean'],
      [`'null'::jsonb`, 'null'],
      [`null`, 'NULL'],
    ] as const) {
      const error = await errorOf(() => db.query(`select * from pgflow.start_flow($1, ${literal})`, [flow]));
      expect(error.code, literal).toBe('22023');
      expect(error.message, literal).toMatch(/object/);
      expect(error.message.toLowerCase(), literal).toContain(kind.toLowerCase());
    }
    expect(await runCount(flow)).toBe(0);
    expect(await queueRows(db, flow)).toEqual([]);
    expect((await db.query(`select 1 from pgflow.step_states where flow_slug = $1`, [flow])).length).toBe(0);
    // An empty object is fine.
    expect((await startFlow(db, flow, {})).status).toBe('started');
  });

  it('an unknown flow: an error naming it', async () => {
    const error = await errorOf(() => db.query(`select * from pgflow.start_flow('no_such_flow', '{}'::jsonb)`));
    expect(error.code).toBe('42704');
    expect(error.message).toContain('no_such_flow');
  });

  it('a flow without steps completes at once', async () => {
    const flow = uniqueSlug('empty');
    await db.query(`select pgflow.create_flow($1)`, [flow]);
    const run = await startFlow(db, flow, { a: 1 });
    expect(run).toMatchObject({ status: 'completed', remaining_steps: 0, failed_at: null, input: { a: 1 } });
    expect(run.completed_at).toBeInstanceOf(Date);
    expect(run.output ?? null).toBeNull();
    expect(await queueRows(db, flow)).toEqual([]);
  });

  it('start_delay hides a root task’s message for that many seconds', async () => {
    const flow = await defineFlow(db, uniqueSlug('delayed_root'), { steps: [{ slug: 'later', startDelay: 2 }, { slug: 'now' }] });
    const run = await startFlow(db, flow);
    const rows = await queueRows(db, flow);
    const later = rows.find((m) => m.message.step_slug === 'later')!;
    expect(later.visible_in).toBeGreaterThan(1);
    expect(later.visible_in).toBeLessThanOrEqual(2.05);
    // The step is ready (started), its task queued; only the message waits.
    expect((await stepStates(db, run.run_id)).later).toMatchObject({ status: 'started', remaining_tasks: 1 });
    expect((await readMessages(db, flow)).map((m) => m.message.step_slug)).toEqual(['now']);
    await sleep(Math.max(0, later.visible_in * 1000) + 100);
    expect((await readMessages(db, flow)).map((m) => m.message.step_slug)).toEqual(['later']);
  });

  it('positional start_flow as in the reference returns one row', async () => {
    const flow = await defineFlow(db, uniqueSlug('data_sync'), {
      maxAttempts: 3,
      baseDelay: 2,
      timeout: 60,
      steps: [{ slug: 'fetch_data' }, { slug: 'validate', deps: ['fetch_data'] }, { slug: 'process', deps: ['validate'] }, { slug: 'store', deps: ['process'] }],
    });
    const rows = await db.query<RunRow>(`SELECT * FROM pgflow.start_flow('${flow}', '{"api_endpoint": "https://api.example.com/data", "limit": 1000}'::jsonb)`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'started', remaining_steps: 4, input: { api_endpoint: 'https://api.example.com/data', limit: 1000 } });
    // The reference's monitoring query.
    const states = await db.query(
      `SELECT step_slug, status, remaining_deps FROM pgflow.step_states WHERE run_id = $1 ORDER BY created_at, step_slug`,
      [rows[0]!.run_id],
    );
    expect(states).toEqual(
      expect.arrayContaining([
        { step_slug: 'fetch_data', status: 'started', remaining_deps: 0 },
        { step_slug: 'validate', status: 'created', remaining_deps: 1 },
        { step_slug: 'process', status: 'created', remaining_deps: 1 },
        { step_slug: 'store', status: 'created', remaining_deps: 1 },
      ]),
    );
  });
});
