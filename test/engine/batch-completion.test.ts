/**
 * pgflow.complete_tasks is the batched twin of pgflow.complete_task: driving
 * the same runs through either must leave the same state behind and publish
 * the same events, and the batch has its own edge cases (duplicates, tasks
 * that may not be completed, unknown tasks).
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { listen } from '../support/events.js';
import {
  completeTask,
  defineFlow,
  errorOf,
  failTask,
  getRun,
  newWorkerId,
  readMessages,
  startFlow,
  startTasks,
  stepStates,
  stepTasks,
  takeTask,
  uniqueSlug,
  type TaskRecord,
} from './support.js';

const db = useTestDatabase();

const completeTasks = (tasks: { run_id: string; step_slug: string; task_index: number; output: unknown }[]) =>
  db.query<{ run_id: string; step_slug: string; status: string }>(
    `select * from pgflow.complete_tasks($1::uuid[], $2::text[], $3::int[], $4::text[]::jsonb[])`,
    [
      tasks.map((task) => task.run_id),
      tasks.map((task) => task.step_slug),
      tasks.map((task) => task.task_index),
      tasks.map((task) => (task.output === undefined ? null : JSON.stringify(task.output))),
    ],
  );

const outputOf = (task: TaskRecord) => ({ step: task.step_slug, inputKeys: Object.keys(task.input as object).sort() });

/** Drives every run of the flow to the end, completing each round's tasks one by one or in one batch. */
async function drive(flow: string, runs: number, mode: 'single' | 'batch') {
  const runIds: string[] = [];
  for (let index = 0; index < runs; index++) runIds.push((await startFlow(db, flow, { index })).run_id);
  for (let round = 0; round < 10; round++) {
    const messages = await readMessages(db, flow, 30, 100);
    if (messages.length === 0) break;
    const tasks = await startTasks(db, flow, messages.map((message) => message.msg_id), newWorkerId());
    if (mode === 'single') {
      for (const task of tasks) expect(await completeTask(db, task.run_id, task.step_slug, outputOf(task))).toHaveLength(1);
    } else {
      expect(await completeTasks(tasks.map((task) => ({ ...task, output: outputOf(task) })))).toHaveLength(tasks.length);
    }
  }
  return runIds;
}

/** The state of a run without ids and timestamps, to compare two runs. */
async function shapeOf(runId: string) {
  const run = await getRun(db, runId);
  const states = Object.values(await stepStates(db, runId)).map((state) => ({
    step: state.step_slug,
    status: state.status,
    remainingTasks: state.remaining_tasks,
    remainingDeps: state.remaining_deps,
    hasCompletedAt: state.completed_at !== null,
  }));
  const tasks = Object.values(await stepTasks(db, runId)).map((task) => ({
    step: task.step_slug,
    status: task.status,
    attempts: task.attempts_count,
    output: task.output,
  }));
  return {
    status: run.status,
    remainingSteps: run.remaining_steps,
    output: run.output,
    states: states.sort((a, b) => a.step.localeCompare(b.step)),
    tasks: tasks.sort((a, b) => a.step.localeCompare(b.step)),
  };
}

describe('complete_tasks and complete_task', () => {
  it('leave the same state and publish the same events for the same runs', async () => {
    const listener = await listen(await db.connect(), ['pgflow_events']);
    const results: Record<string, { shapes: unknown[]; events: string[]; archived: number; queued: number }> = {};
    for (const mode of ['single', 'batch'] as const) {
      const flow = await defineFlow(db, uniqueSlug(`twin_${mode}`), {
        steps: [
          { slug: 'start' },
          { slug: 'left', deps: ['start'] },
          { slug: 'right', deps: ['start'] },
          { slug: 'join', deps: ['left', 'right'] },
          { slug: 'side' },
        ],
      });
      const runIds = await drive(flow, 3, mode);
      await listener.waitFor('pgflow_events', (event) => event.payload.flow_slug === flow && event.event === 'run:completed', 3);
      const events = listener
        .on('pgflow_events')
        .filter((received) => received.event.payload.flow_slug === flow)
        .map((received) => `${runIds.indexOf(received.event.payload.run_id)}:${received.event.event}:${received.event.payload.step_slug ?? ''}`);
      const [counts] = await db.query<{ archived: number; queued: number }>(
        `select (select count(*)::int from pgmq."a_${flow}") as archived, (select count(*)::int from pgmq."q_${flow}") as queued`,
      );
      results[mode] = { shapes: await Promise.all(runIds.map(shapeOf)), events: perRun(events), ...counts! };
    }
    expect(results.batch).toEqual(results.single);
    expect(results.single!.archived).toBe(15);
    expect(results.single!.queued).toBe(0);
    expect((results.single!.shapes[0] as { output: unknown }).output).toEqual({
      join: { step: 'join', inputKeys: ['left', 'right', 'run'] },
      side: { step: 'side', inputKeys: ['run'] },
    });
  });

  it('completes tasks of several runs and steps in one call, each dependent starting once', async () => {
    const flow = await defineFlow(db, uniqueSlug('multi'), { steps: [{ slug: 'a' }, { slug: 'b' }, { slug: 'join', deps: ['a', 'b'] }] });
    const runs = [await startFlow(db, flow), await startFlow(db, flow)];
    const tasks = await startTasks(db, flow, (await readMessages(db, flow, 30, 10)).map((message) => message.msg_id), newWorkerId());
    expect(tasks).toHaveLength(4);
    await completeTasks(tasks.map((task) => ({ ...task, output: task.step_slug })));
    for (const run of runs) {
      const states = await stepStates(db, run.run_id);
      expect(states.join).toMatchObject({ status: 'started', remaining_deps: 0, remaining_tasks: 1 });
      expect((await getRun(db, run.run_id)).remaining_steps).toBe(1);
    }
    const joins = await db.query(`select * from pgflow.step_tasks where flow_slug = $1 and step_slug = 'join'`, [flow]);
    expect(joins).toHaveLength(2);
  });

  it('counts a task listed twice once', async () => {
    const flow = await defineFlow(db, uniqueSlug('twice'), { steps: ['only', { slug: 'next', deps: ['only'] }] });
    const run = await startFlow(db, flow);
    const task = await takeTask(db, flow, run.run_id, 'only');
    const completed = await completeTasks([
      { ...task, output: 1 },
      { ...task, output: 1 },
    ]);
    expect(completed).toHaveLength(1);
    expect(await stepStates(db, run.run_id)).toMatchObject({ only: { status: 'completed' }, next: { status: 'started', remaining_deps: 0 } });
    expect((await getRun(db, run.run_id)).remaining_steps).toBe(1);
  });

  it('skips tasks that are not started or whose run has failed, and returns only the completed ones', async () => {
    const flow = await defineFlow(db, uniqueSlug('skip'), { maxAttempts: 1, steps: ['a', 'b'] });
    const healthy = await startFlow(db, flow);
    const doomed = await startFlow(db, flow);
    const started = await takeTask(db, flow, healthy.run_id, 'a');
    const queued = { run_id: healthy.run_id, step_slug: 'b', task_index: 0 };
    const failing = await takeTask(db, flow, doomed.run_id, 'a');
    const sibling = await takeTask(db, flow, doomed.run_id, 'b');
    await failTask(db, doomed.run_id, 'a', 'boom');
    const completed = await completeTasks([
      { ...started, output: 'ok' },
      { ...queued, output: 'too early' },
      { ...failing, output: 'too late' },
      { ...sibling, output: 'too late' },
    ]);
    expect(completed.map((task) => `${task.run_id === healthy.run_id ? 'healthy' : 'doomed'}:${task.step_slug}:${task.status}`)).toEqual([
      'healthy:a:completed',
    ]);
    expect((await stepTasks(db, healthy.run_id)).b!.status).toBe('queued');
    expect(Object.values(await stepTasks(db, doomed.run_id)).map((task) => task.status)).toEqual(['failed', 'failed']);
  });

  it('refuses an unknown task and keeps nothing of the call', async () => {
    const flow = await defineFlow(db, uniqueSlug('unknown'), { steps: ['a'] });
    const run = await startFlow(db, flow);
    const task = await takeTask(db, flow, run.run_id, 'a');
    const error = await errorOf(() => completeTasks([{ ...task, output: 1 }, { run_id: run.run_id, step_slug: 'nope', task_index: 0, output: 1 }]));
    expect(error.code).toBe('42704');
    expect(error.message).toContain('"nope"');
    expect((await stepTasks(db, run.run_id)).a!.status).toBe('started');
    expect((await getRun(db, run.run_id)).status).toBe('started');
  });

  it('refuses arrays of different lengths', async () => {
    const error = await errorOf(() => db.query(`select * from pgflow.complete_tasks(array[gen_random_uuid()], array['a', 'b'], array[0], array['1'::jsonb])`));
    expect(error.code).toBe('22023');
    expect(error.message).toContain('equal length');
  });
});

/** Groups "run:event:step" strings by run, keeping each run's order (runs interleave differently per mode). */
function perRun(events: string[]): string[] {
  return [...events].sort((a, b) => Number(a.split(':')[0]) - Number(b.split(':')[0]));
}
