/**
 * The engine on a distributed install, through plain SQL as any worker drives
 * it: start, claim, complete, fail and retry, a failed run archiving the
 * rest, skips cascading, a silent task coming back after its timeout, and the
 * events of all of it heard by a LISTENer on the coordinator.
 */
import { describe, expect, it } from 'vitest';
import {
  completeTask,
  defineFlow,
  diamondSteps,
  drain,
  failTask,
  getRun,
  newWorkerId,
  sleep,
  stepStates,
  stepTasks,
  uniqueSlug,
  type ClaimedTaskRow,
} from '../engine/support.js';
import { listen } from '../support/events.js';
import { useCitusDatabase } from './support.js';

const db = useCitusDatabase();

const claim = (flowSlug: string, workerId = newWorkerId(), qty = 10) =>
  db.query<ClaimedTaskRow>(`select * from pgflow.claim_tasks($1::text, $2::uuid, $3::int)`, [flowSlug, workerId, qty]);

const startRun = async (flowSlug: string, input: unknown = {}) =>
  (await db.query<{ run_id: string }>(`select run_id from pgflow.start_flow($1::text, $2::jsonb)`, [flowSlug, JSON.stringify(input)]))[0]!.run_id;

describe('the engine on Citus', () => {
  it('runs a diamond end to end, and the coordinator hears every event in order', async () => {
    const flow = await defineFlow(db, uniqueSlug('diamond'), { steps: diamondSteps });
    const listener = await listen(await db.connect(), ['pgflow_events', flow]);
    const runId = await startRun(flow, { n: 3 });

    const [first] = await claim(flow);
    expect(first).toMatchObject({ run_id: runId, step_slug: 'start', input: { run: { n: 3 } }, attempts_count: 1 });
    expect(await completeTask(db, runId, 'start', { v: 1 })).toHaveLength(1);
    const branches = await claim(flow);
    expect(branches.map((t) => t.step_slug).sort()).toEqual(['branch_a', 'branch_b']);
    expect(branches[0]!.input).toEqual({ run: { n: 3 }, start: { v: 1 } });
    await completeTask(db, runId, 'branch_a', 'a');
    await completeTask(db, runId, 'branch_b', 'b');
    const [join] = await claim(flow);
    expect(join!.input).toEqual({ run: { n: 3 }, branch_a: 'a', branch_b: 'b' });
    await completeTask(db, runId, 'join', { done: true });

    const run = await getRun(db, runId);
    expect(run).toMatchObject({ status: 'completed', output: { join: { done: true } }, remaining_steps: 0 });
    const events = await listener.waitFor(flow, (e) => e.event === 'run:completed', 1);
    expect(events).toHaveLength(1);
    const kinds = listener.on(flow).map((r) => `${r.event.event}${r.event.payload.step_slug ? ` ${r.event.payload.step_slug}` : ''}`);
    expect(kinds[0]).toBe('run:started');
    expect(kinds.at(-1)).toBe('run:completed');
    expect(kinds.filter((k) => k.startsWith('step:completed')).sort()).toEqual([
      'step:completed branch_a',
      'step:completed branch_b',
      'step:completed join',
      'step:completed start',
    ]);
    expect(listener.on('pgflow_events').length).toBe(listener.on(flow).length);
    // The queue message of every task is archived, none is left.
    const [queue] = await db.query<{ left: number; archived: number }>(
      `select (select count(*)::int from pgmq."q_${flow}") as left, (select count(*)::int from pgmq."a_${flow}") as archived`,
    );
    expect(queue).toEqual({ left: 0, archived: 4 });
    // Reading a run is delegated to its node and still answers on the coordinator.
    const [read] = await db.query<{ doc: { run: { run_id: string; status: string } } }>(`select pgflow.get_run_with_states($1::uuid) as doc`, [runId]);
    expect(read!.doc.run).toMatchObject({ run_id: runId, status: 'completed' });
    await listener.stop();
  });

  it('retries a failed task after its delay, and a task out of attempts fails its run and archives the rest', async () => {
    const flow = await defineFlow(db, uniqueSlug('retry'), {
      maxAttempts: 2,
      baseDelay: 0,
      steps: [{ slug: 'left' }, { slug: 'right' }, { slug: 'after', deps: ['left', 'right'] }],
    });
    const listener = await listen(await db.connect(), [flow]);
    const runId = await startRun(flow);
    const firstRound = await claim(flow);
    expect(firstRound.map((t) => t.step_slug).sort()).toEqual(['left', 'right']);

    expect(await failTask(db, runId, 'left', 'first try')).toHaveLength(1);
    expect((await stepTasks(db, runId)).left).toMatchObject({ status: 'queued', attempts_count: 1, error_message: 'first try' });
    const [again] = await claim(flow);
    expect(again).toMatchObject({ step_slug: 'left', attempts_count: 2 });
    await failTask(db, runId, 'left', 'second try');

    expect(await getRun(db, runId)).toMatchObject({ status: 'failed' });
    const states = await stepStates(db, runId);
    expect(states.left).toMatchObject({ status: 'failed', error_message: 'second try' });
    expect(states.right!.status).toBe('failed');
    expect((await stepTasks(db, runId)).right!.status).toBe('failed');
    // The started right task's report changes nothing now (decision 7).
    expect(await completeTask(db, runId, 'right', 1)).toEqual([]);
    const [queue] = await db.query<{ left: number }>(`select count(*)::int as left from pgmq."q_${flow}"`);
    expect(queue!.left).toBe(0);
    await listener.waitFor(flow, (e) => e.event === 'run:failed', 1);
    const failed = listener.on(flow).filter((r) => r.event.event === 'step:failed');
    expect(failed.map((r) => r.event.payload.step_slug)).toContain('left');
    await listener.stop();
  });

  it('skips a step whose condition is not met and cascades the skip to its dependents', async () => {
    const flow = await defineFlow(db, uniqueSlug('skip'), {
      steps: [
        { slug: 'gate', if: { run: { go: true } }, whenUnmet: 'skip-cascade' },
        { slug: 'after_gate', deps: ['gate'] },
        { slug: 'other' },
      ],
    });
    const runId = await startRun(flow, { go: false });
    const handled = await drain(db, flow, () => 'ok');
    expect(handled.map((t) => t.step_slug)).toEqual(['other']);
    const states = await stepStates(db, runId);
    expect(states.gate).toMatchObject({ status: 'skipped', skip_reason: 'condition_unmet' });
    expect(states.after_gate).toMatchObject({ status: 'skipped', skip_reason: 'dependency_skipped' });
    expect(await getRun(db, runId)).toMatchObject({ status: 'completed', output: { other: 'ok' } });
  });

  it('fans a map step out over its array, one task per element, on the run’s node', async () => {
    const flow = await defineFlow(db, uniqueSlug('map'), {
      steps: [{ slug: 'items', stepType: 'map' }, { slug: 'sum', deps: ['items'] }],
    });
    const runId = await startRun(flow, [1, 2, 3, 4, 5]);
    await drain(db, flow, (task) => (task.step_slug === 'items' ? (task.input as number) * 10 : (task.input as { items: number[] }).items.reduce((a, b) => a + b, 0)));
    expect(await getRun(db, runId)).toMatchObject({ status: 'completed', output: { sum: 150 } });
  });

  it('gives a silent task to another worker once its timeout has passed, as a new attempt', async () => {
    const flow = await defineFlow(db, uniqueSlug('timeout'), { maxAttempts: 3, timeout: 1, steps: ['only'] });
    const runId = await startRun(flow);
    const [taken] = await claim(flow);
    expect(taken!.attempts_count).toBe(1);
    expect(await claim(flow)).toEqual([]);
    // The message is hidden for timeout + 2 s; wait until a claim gets it again.
    let again: ClaimedTaskRow[] = [];
    for (let i = 0; i < 100 && again.length === 0; i++) {
      await sleep(100);
      again = await claim(flow);
    }
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ run_id: runId, step_slug: 'only', attempts_count: 2 });
    await completeTask(db, runId, 'only', 'late but done');
    expect(await getRun(db, runId)).toMatchObject({ status: 'completed' });
  });

  it('completes tasks of many runs on different nodes in one complete_tasks call', async () => {
    const flow = await defineFlow(db, uniqueSlug('batch'), { steps: ['a', { slug: 'b', deps: ['a'] }] });
    const runIds: string[] = [];
    for (let i = 0; i < 30; i++) runIds.push(await startRun(flow, { i }));
    const handled = await drain(db, flow, (task) => task.step_slug);
    expect(handled).toHaveLength(60);
    const [counts] = await db.query<{ completed: number }>(`select count(*)::int as completed from pgflow.runs where flow_slug = $1 and status = 'completed'`, [flow]);
    expect(counts!.completed).toBe(30);
  });
});
