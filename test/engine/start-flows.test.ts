/**
 * pgflow.start_flows(flow_slug, inputs): one run per input in one transaction,
 * each as start_flow would create it (run row, step states, root tasks and
 * their messages, runs that advance without a worker), returned in input
 * order; run:started per run in input order; errors that name the bad input
 * and leave nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { listen } from '../support/events.js';
import { useTestDatabase } from '../support/database.js';
import { defineFlow, diamondSteps, drain, errorOf, getRun, queueRows, startFlow, stepStates, stepTasks, uniqueSlug, type RunRow } from './support.js';

const db = useTestDatabase();

const startFlows = (flow: string, inputs: unknown[]) =>
  db.query<RunRow>(`select * from pgflow.start_flows($1::text, $2::text[]::jsonb[])`, [flow, inputs.map((input) => JSON.stringify(input))]);

const runCount = async (flow: string) => (await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = $1`, [flow]))[0]!.n;

/** A run's states and tasks without ids and clocks, to compare runs started in different ways. */
async function shape(runId: string) {
  const states = await stepStates(db, runId);
  const tasks = await stepTasks(db, runId);
  return {
    states: Object.fromEntries(Object.entries(states).map(([slug, s]) => [slug, [s.status, s.remaining_deps, s.remaining_tasks, s.initial_tasks, s.started_at !== null]])),
    tasks: Object.fromEntries(Object.entries(tasks).map(([slug, t]) => [slug, [t.status, t.task_index, t.attempts_count, t.message_id !== null]])),
  };
}

describe('pgflow.start_flows', () => {
  it('starts one run per input and returns them in input order, each as start_flow creates it', async () => {
    const flow = await defineFlow(db, uniqueSlug('many'), { steps: diamondSteps });
    const inputs = [{ n: 1 }, { n: 2, nested: { list: [1, 2] } }, { n: 3 }];
    const runs = await startFlows(flow, inputs);
    expect(runs.map((run) => run.input)).toEqual(inputs);
    expect(new Set(runs.map((run) => run.run_id)).size).toBe(3);
    for (const run of runs) {
      expect(run).toMatchObject({ flow_slug: flow, status: 'started', remaining_steps: 4, output: null });
      expect(await getRun(db, run.run_id)).toEqual(run);
    }
    const single = await startFlow(db, flow, { n: 4 });
    for (const run of runs) expect(await shape(run.run_id)).toEqual(await shape(single.run_id));
    // One message per root task, one root task per run (and the single run's).
    const queued = await queueRows(db, flow);
    expect(queued.map((m) => m.message.run_id).sort()).toEqual([...runs.map((run) => run.run_id), single.run_id].sort());
    expect(queued.every((m) => m.message.step_slug === 'start' && m.message.task_index === 0)).toBe(true);
  });

  it('runs started together complete like any other', async () => {
    const flow = await defineFlow(db, uniqueSlug('complete'), { steps: [{ slug: 'a' }, { slug: 'b', deps: ['a'] }] });
    const runs = await startFlows(flow, [{ x: 1 }, { x: 2 }]);
    await drain(db, flow, (task) => ({ step: task.step_slug }));
    for (const run of runs) expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { b: { step: 'b' } } });
  });

  it('sizes each run of a root map by its own input; a run over an empty array completes at once', async () => {
    const flow = await defineFlow(db, uniqueSlug('maps'), { steps: [{ slug: 'each', stepType: 'map' }] });
    const runs = await startFlows(flow, [[1, 2, 3], [], ['x']]);
    const states = await Promise.all(runs.map(async (run) => (await stepStates(db, run.run_id)).each!));
    expect(states.map((s) => [s.status, s.initial_tasks])).toEqual([
      ['started', 3],
      ['completed', 0],
      ['started', 1],
    ]);
    expect((await getRun(db, runs[1]!.run_id)).status).toBe('completed');
    expect((await queueRows(db, flow)).length).toBe(4);
  });

  it('moves runs on without a worker: a root step whose condition is not met is skipped, a flow without steps completes', async () => {
    const conditional = await defineFlow(db, uniqueSlug('cond'), { steps: [{ slug: 'only_vip', if: { run: { vip: true } } }, { slug: 'always' }] });
    const [vip, plain] = await startFlows(conditional, [{ vip: true }, { vip: false }]);
    expect((await stepStates(db, vip!.run_id)).only_vip!.status).toBe('started');
    expect((await stepStates(db, plain!.run_id)).only_vip!.status).toBe('skipped');
    const empty = await defineFlow(db, uniqueSlug('empty'), { steps: [] });
    const done = await startFlows(empty, [{}, {}]);
    expect(done.map((run) => run.status)).toEqual(['completed', 'completed']);
  });

  it('emits run:started for each run, in input order', async () => {
    const flow = await defineFlow(db, uniqueSlug('events'), { steps: ['a'] });
    const events = await listen(await db.connect(), [flow]);
    try {
      const runs = await startFlows(flow, [{ i: 0 }, { i: 1 }, { i: 2 }]);
      const ids = new Set(runs.map((run) => run.run_id));
      const started = await events.waitFor(flow, (event) => event.event === 'run:started' && ids.has(event.payload.run_id), 3);
      expect(started.map((r) => r.event.payload.run_id)).toEqual(runs.map((run) => run.run_id));
    } finally {
      await events.stop();
    }
  });

  it('returns nothing for an empty array', async () => {
    const flow = await defineFlow(db, uniqueSlug('none'), { steps: ['a'] });
    expect(await startFlows(flow, [])).toEqual([]);
    expect(await runCount(flow)).toBe(0);
  });

  it('names the first input that is not a JSON object, and starts none', async () => {
    const flow = await defineFlow(db, uniqueSlug('bad'), { steps: ['a'] });
    const error = await errorOf(() => startFlows(flow, [{ ok: 1 }, { ok: 2 }, [1], 'text']));
    expect(error.code).toBe('22023');
    expect(error.message).toBe('the input of a run must be a JSON object, got array at inputs[3]');
    const nulls = await errorOf(() => db.query(`select * from pgflow.start_flows($1, array['{}'::jsonb, null])`, [flow]));
    expect(nulls.code).toBe('22023');
    expect(nulls.message).toContain('got NULL at inputs[2]');
    expect(await runCount(flow)).toBe(0);
    expect(await queueRows(db, flow)).toHaveLength(0);
  });

  it('requires arrays for a flow with a root map, naming the step and the input', async () => {
    const flow = await defineFlow(db, uniqueSlug('bad_map'), { steps: [{ slug: 'each', stepType: 'map' }] });
    const error = await errorOf(() => startFlows(flow, [[1], { not: 'an array' }]));
    expect(error.code).toBe('22023');
    expect(error.message).toBe(`flow "${flow}" maps its input in step "each", so the input of a run must be a JSON array, got object at inputs[2]`);
    expect(await runCount(flow)).toBe(0);
  });

  it('refuses an unknown flow, NULL inputs and a multi-dimensional array', async () => {
    const unknown = await errorOf(() => startFlows('no_such_flow', [{}]));
    expect(unknown.code).toBe('42704');
    expect(unknown.message).toBe('flow "no_such_flow" does not exist');
    const flow = await defineFlow(db, uniqueSlug('null'), { steps: ['a'] });
    const nullInputs = await errorOf(() => db.query(`select * from pgflow.start_flows($1, null)`, [flow]));
    expect(nullInputs.code).toBe('22004');
    const square = await errorOf(() => db.query(`select * from pgflow.start_flows($1, array[['{}'::jsonb], ['{}'::jsonb]])`, [flow]));
    expect(square.code).toBe('22023');
    expect(square.message).toContain('one-dimensional');
    expect(await runCount(flow)).toBe(0);
  });
});
