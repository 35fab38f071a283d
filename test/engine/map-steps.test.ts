/**
 * Map steps: one task per element of an array — the run input for a root
 * map, the output of its one dependency otherwise — whose outputs, in
 * task_index order, form the step's output. Driven through plain SQL:
 * start_flow, pgmq.read + start_tasks + complete_task / fail_task, and the
 * batched claim_tasks + complete_tasks.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { listen } from '../support/events.js';
import {
  archiveRows,
  completeTask,
  defineFlow,
  drain,
  errorOf,
  failTask,
  getRun,
  newWorkerId,
  queueRows,
  onClient,
  readMessages,
  sleep,
  startFlow,
  startTasks,
  stepStates,
  takeTask,
  uniqueSlug,
  type StepTaskRow,
} from './support.js';

const db = useTestDatabase();

const tasksOf = (runId: string, stepSlug: string) =>
  db.query<StepTaskRow>(`select * from pgflow.step_tasks where run_id = $1 and step_slug = $2 order by task_index`, [runId, stepSlug]);

describe('a root map', () => {
  it('has one task per element of the run input, each getting its element, and outputs the results in order', async () => {
    const flow = await defineFlow(db, uniqueSlug('root_map'), { steps: [{ slug: 'double', stepType: 'map' }] });
    const run = await startFlow(db, flow, [3, { n: 4 }, 'five', null, [6]]);
    expect(run.status).toBe('started');
    const { double } = await stepStates(db, run.run_id);
    expect(double).toMatchObject({ status: 'started', initial_tasks: 5, remaining_tasks: 5 });
    expect((await tasksOf(run.run_id, 'double')).map((task) => [task.task_index, task.status])).toEqual([0, 1, 2, 3, 4].map((i) => [i, 'queued']));

    // The per-task protocol: every message carries its task_index; each task's input is its element.
    const messages = await readMessages(db, flow, 30, 10);
    expect(messages.map((message) => message.message.task_index).sort()).toEqual([0, 1, 2, 3, 4]);
    const started = await startTasks(db, flow, messages.map((message) => message.msg_id), newWorkerId());
    expect(Object.fromEntries(started.map((task) => [task.task_index, task.input]))).toEqual({ 0: 3, 1: { n: 4 }, 2: 'five', 3: null, 4: [6] });

    // Completed out of order; the step completes with its last task, its output in task_index order.
    for (const index of [4, 2, 0, 3]) await completeTask(db, run.run_id, 'double', { i: index }, index);
    expect((await stepStates(db, run.run_id)).double).toMatchObject({ status: 'started', remaining_tasks: 1 });
    await completeTask(db, run.run_id, 'double', { i: 1 }, 1);
    expect((await stepStates(db, run.run_id)).double).toMatchObject({ status: 'completed', remaining_tasks: 0 });
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { double: [0, 1, 2, 3, 4].map((i) => ({ i })) } });
  });

  it('of one element has one task; of none completes at once with [] and so does the run', async () => {
    const flow = await defineFlow(db, uniqueSlug('root_sizes'), { steps: [{ slug: 'each', stepType: 'map' }] });
    const one = await startFlow(db, flow, ['only']);
    expect((await tasksOf(one.run_id, 'each')).map((task) => task.task_index)).toEqual([0]);
    await drain(db, flow, (task) => `${task.input as string}!`);
    expect(await getRun(db, one.run_id)).toMatchObject({ status: 'completed', output: { each: ['only!'] } });

    const none = await startFlow(db, flow, []);
    expect(none).toMatchObject({ status: 'completed', remaining_steps: 0, output: { each: [] } });
    expect((await stepStates(db, none.run_id)).each).toMatchObject({ status: 'completed', initial_tasks: 0, remaining_tasks: 0 });
    expect(await tasksOf(none.run_id, 'each')).toEqual([]);
  });

  it('needs an array as the run input: anything else is a clear error, and nothing is created', async () => {
    const flow = await defineFlow(db, uniqueSlug('root_input'), { steps: [{ slug: 'first' }, { slug: 'each', stepType: 'map' }] });
    for (const input of [{ items: [1] }, 'text', 7, null]) {
      const error = await errorOf(() => db.query(`select * from pgflow.start_flow($1, $2::jsonb)`, [flow, input === null ? null : JSON.stringify(input)]));
      expect(error.code).toBe('22023');
      expect(error.message).toBe(
        `flow "${flow}" maps its input in step "each", so the input of a run must be a JSON array, got ${input === null ? 'NULL' : typeof input === 'object' ? 'object' : typeof input}`,
      );
    }
    expect(await db.query(`select 1 from pgflow.runs where flow_slug = $1`, [flow])).toEqual([]);
    // Its other root steps get the array as the run input.
    const run = await startFlow(db, flow, [1, 2]);
    const handled = await drain(db, flow, (task) => task.input);
    expect(handled.find((task) => task.step_slug === 'first')?.input).toEqual({ run: [1, 2] });
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { first: { run: [1, 2] }, each: [1, 2] } });
  });

  it('of 10,000 elements is queued by start_flow in one call and drained in batches, every task once', async () => {
    const flow = await defineFlow(db, uniqueSlug('big_map'), { steps: [{ slug: 'square', stepType: 'map' }, { slug: 'sum', deps: ['square'] }] });
    const input = Array.from({ length: 10_000 }, (_, i) => i);
    const run = await startFlow(db, flow, input);
    expect((await stepStates(db, run.run_id)).square).toMatchObject({ initial_tasks: 10_000, remaining_tasks: 10_000 });
    expect(await db.query(`select count(*)::int as n from pgflow.step_tasks where run_id = $1`, [run.run_id])).toEqual([{ n: 10_000 }]);
    expect((await queueRows(db, flow)).length).toBe(10_000);
    const handled = await drain(
      db,
      flow,
      (task) => (task.step_slug === 'square' ? (task.input as number) ** 2 : (task.input.square as number[]).reduce((a, b) => a + b, 0)),
      1_000,
    );
    const squares = handled.filter((task) => task.step_slug === 'square');
    expect(squares).toHaveLength(10_000);
    expect(new Set(squares.map((task) => task.task_index)).size).toBe(10_000);
    const expectedSum = input.reduce((total, i) => total + i * i, 0);
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { sum: expectedSum } });
    expect((await queueRows(db, flow)).length).toBe(0);
  });
});

describe('a map over a dependency', () => {
  it('fans out over the array its dependency produced; a dependent of the map gets the outputs in order', async () => {
    const flow = await defineFlow(db, uniqueSlug('dependent_map'), {
      steps: [{ slug: 'list' }, { slug: 'fetch', deps: ['list'], stepType: 'map' }, { slug: 'report', deps: ['fetch', 'list'] }],
    });
    const run = await startFlow(db, flow, { prefix: 'item-' });
    expect((await stepStates(db, run.run_id)).fetch).toMatchObject({ status: 'created', initial_tasks: null, remaining_tasks: null });
    const inputs: Record<string, unknown[]> = {};
    await drain(db, flow, (task) => {
      (inputs[task.step_slug] ??= [])[task.task_index] = task.input;
      if (task.step_slug === 'list') return ['a', 'b', 'c'];
      if (task.step_slug === 'fetch') return `${(task.input as string).toUpperCase()}${task.task_index}`;
      return task.input;
    });
    expect(inputs.fetch).toEqual(['a', 'b', 'c']);
    expect(inputs.report).toEqual([{ run: { prefix: 'item-' }, list: ['a', 'b', 'c'], fetch: ['A0', 'B1', 'C2'] }]);
    expect((await stepStates(db, run.run_id)).fetch).toMatchObject({ status: 'completed', initial_tasks: 3, remaining_tasks: 0 });
    expect((await getRun(db, run.run_id)).status).toBe('completed');
  });

  it('of one element has one task; of 10,000 is queued by the completion of its dependency in one call, every task once', async () => {
    const flow = await defineFlow(db, uniqueSlug('dependent_sizes'), {
      steps: [{ slug: 'list' }, { slug: 'double', deps: ['list'], stepType: 'map' }, { slug: 'sum', deps: ['double'] }],
    });
    for (const size of [1, 10_000]) {
      const run = await startFlow(db, flow, { size });
      await takeTask(db, flow, run.run_id, 'list');
      expect(await completeTask(db, run.run_id, 'list', Array.from({ length: size }, (_, i) => i))).toHaveLength(1);
      // That one completion queued every element: one task and one message each.
      expect((await stepStates(db, run.run_id)).double).toMatchObject({ status: 'started', initial_tasks: size, remaining_tasks: size });
      expect(await db.query(`select count(*)::int as n from pgflow.step_tasks where run_id = $1 and step_slug = 'double'`, [run.run_id])).toEqual([{ n: size }]);
      expect((await queueRows(db, flow)).length).toBe(size);
      const handled = await drain(
        db,
        flow,
        (task) => (task.step_slug === 'double' ? (task.input as number) * 2 : (task.input.double as number[]).reduce((a, b) => a + b, 0)),
        1_000,
      );
      const doubles = handled.filter((task) => task.step_slug === 'double');
      expect(doubles).toHaveLength(size);
      expect(new Set(doubles.map((task) => task.task_index)).size).toBe(size);
      expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { sum: size * (size - 1) } });
      expect((await queueRows(db, flow)).length).toBe(0);
    }
  });

  it('maps over a map: task i gets task i’s output of the map before it', async () => {
    const flow = await defineFlow(db, uniqueSlug('map_map'), {
      steps: [
        { slug: 'add', stepType: 'map' },
        { slug: 'mul', deps: ['add'], stepType: 'map' },
      ],
    });
    const run = await startFlow(db, flow, [1, 2, 3, 4]);
    await drain(db, flow, (task) => (task.step_slug === 'add' ? (task.input as number) + 10 : (task.input as number) * 2), 3);
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { mul: [22, 24, 26, 28] } });
    expect((await stepStates(db, run.run_id)).mul).toMatchObject({ initial_tasks: 4 });
  });

  it('empty arrays cascade: a chain of maps over [] completes without a task, then its dependent runs', async () => {
    const flow = await defineFlow(db, uniqueSlug('empty_cascade'), {
      steps: [
        { slug: 'list' },
        { slug: 'm1', deps: ['list'], stepType: 'map' },
        { slug: 'm2', deps: ['m1'], stepType: 'map' },
        { slug: 'm3', deps: ['m2'], stepType: 'map' },
        { slug: 'done', deps: ['m3'] },
      ],
    });
    const run = await startFlow(db, flow, {});
    const handled = await drain(db, flow, (task) => (task.step_slug === 'list' ? [] : task.input));
    expect(handled.map((task) => task.step_slug)).toEqual(['list', 'done']);
    expect(handled[1]!.input).toEqual({ run: {}, m3: [] });
    const states = await stepStates(db, run.run_id);
    for (const slug of ['m1', 'm2', 'm3']) expect(states[slug]).toMatchObject({ status: 'completed', initial_tasks: 0, remaining_tasks: 0 });
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', remaining_steps: 0, output: { done: { run: {}, m3: [] } } });
    expect(await db.query(`select count(*)::int as n from pgflow.step_tasks where run_id = $1`, [run.run_id])).toEqual([{ n: 2 }]);
  });

  it('an empty root map followed by maps completes the whole run inside start_flow', async () => {
    const flow = await defineFlow(db, uniqueSlug('empty_root'), {
      steps: [
        { slug: 'a', stepType: 'map' },
        { slug: 'b', deps: ['a'], stepType: 'map' },
      ],
    });
    const run = await startFlow(db, flow, []);
    expect(run).toMatchObject({ status: 'completed', output: { b: [] } });
  });

  it('when the dependency produced no array, the run fails naming the map, the dependency and what it got', async () => {
    const flow = await defineFlow(db, uniqueSlug('not_array'), {
      steps: [{ slug: 'list' }, { slug: 'side' }, { slug: 'each', deps: ['list'], stepType: 'map' }],
    });
    for (const [output, got] of [
      [{ items: [1] }, 'object'],
      ['text', 'string'],
      [null, 'null'],
    ] as const) {
      const run = await startFlow(db, flow, {});
      const workerId = newWorkerId();
      const started = await startTasks(db, flow, (await readMessages(db, flow, 30, 10)).map((message) => message.msg_id), workerId);
      expect(started.map((task) => task.step_slug).sort()).toEqual(['list', 'side']);
      expect(await completeTask(db, run.run_id, 'list', output)).toHaveLength(1);
      const message = `map step "each" expects an array from step "list", got ${got}`;
      expect(await getRun(db, run.run_id)).toMatchObject({ status: 'failed' });
      const states = await stepStates(db, run.run_id);
      expect(states.each).toMatchObject({ status: 'failed', error_message: message });
      expect(states.list!.status).toBe('completed');
      // The other running task of the run is cut short (decision 8) and its message leaves the queue.
      expect(states.side).toMatchObject({ status: 'failed', error_message: 'run failed because step "each" failed' });
      expect(await completeTask(db, run.run_id, 'side', 1)).toEqual([]);
      expect((await queueRows(db, flow)).filter((row) => row.message.run_id === run.run_id)).toEqual([]);
    }
  });
});

describe('map tasks fail and retry one by one', () => {
  it('an element that fails once is retried; the others are not run again; the output keeps its order', async () => {
    const flow = await defineFlow(db, uniqueSlug('map_retry'), { baseDelay: 0, steps: [{ slug: 'each', stepType: 'map', maxAttempts: 2 }] });
    const run = await startFlow(db, flow, ['a', 'b', 'c']);
    let failedOnce = false;
    const handled = await drain(db, flow, (task) => {
      if (task.input === 'b' && !failedOnce) {
        failedOnce = true;
        throw new Error('b failed');
      }
      return `${task.input as string}:${task.attempts_count}`;
    });
    expect(handled.map((task) => [task.input, task.attempts_count]).sort()).toEqual([
      ['a', 1],
      ['b', 1],
      ['b', 2],
      ['c', 1],
    ]);
    const tasks = await tasksOf(run.run_id, 'each');
    expect(tasks.map((task) => [task.task_index, task.status, task.attempts_count])).toEqual([
      [0, 'completed', 1],
      [1, 'completed', 2],
      [2, 'completed', 1],
    ]);
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { each: ['a:1', 'b:2', 'c:1'] } });
  });

  it('an element that fails for good fails the run; the map’s other tasks stop and leave the queue', async () => {
    const flow = await defineFlow(db, uniqueSlug('map_fail'), { steps: [{ slug: 'each', stepType: 'map', maxAttempts: 1 }] });
    const run = await startFlow(db, flow, [1, 2, 3]);
    const [message] = await readMessages(db, flow, 30, 1);
    const [task] = await startTasks(db, flow, [message!.msg_id], newWorkerId());
    expect(await failTask(db, run.run_id, 'each', 'element broke', task!.task_index)).toHaveLength(1);
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'failed' });
    expect((await stepStates(db, run.run_id)).each).toMatchObject({ status: 'failed', error_message: 'element broke' });
    const tasks = await tasksOf(run.run_id, 'each');
    expect(tasks.every((t) => t.status === 'failed')).toBe(true);
    expect(await queueRows(db, flow)).toEqual([]);
    expect((await archiveRows(db, flow)).length).toBe(3);
    expect(await drain(db, flow)).toEqual([]);
  });
});

describe('map step events', () => {
  it('step:started when the first task starts, step:completed when the last completes: once each', async () => {
    const flow = await defineFlow(db, uniqueSlug('map_events'), { steps: [{ slug: 'each', stepType: 'map' }] });
    const listener = await listen(await db.connect(), [flow]);
    try {
      const run = await startFlow(db, flow, [1, 2, 3, 4, 5]);
      await drain(db, flow, (task) => task.input, 2);
      await listener.waitFor(flow, (event) => event.event === 'run:completed', 1);
      expect(listener.on(flow).map(({ event }) => [event.event, event.payload.step_slug ?? null])).toEqual([
        ['run:started', null],
        ['step:started', 'each'],
        ['step:completed', 'each'],
        ['run:completed', null],
      ]);
      expect((await getRun(db, run.run_id)).output).toEqual({ each: [1, 2, 3, 4, 5] });
    } finally {
      await listener.stop();
    }
  });
});

describe('map tasks under concurrency and timeouts', () => {
  it('eight connections completing the tasks of one map at once: the step completes once, its dependent is queued once', async () => {
    const flow = await defineFlow(db, uniqueSlug('map_race'), { steps: [{ slug: 'each', stepType: 'map' }, { slug: 'after', deps: ['each'] }] });
    const run = await startFlow(db, flow, Array.from({ length: 64 }, (_, i) => i));
    await startTasks(db, flow, (await readMessages(db, flow, 30, 64)).map((message) => message.msg_id), newWorkerId());
    const clients = await Promise.all(Array.from({ length: 8 }, () => db.connect()));
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = c; i < 64; i += 8) await completeTask(onClient(client), run.run_id, 'each', i * 10, i);
      }),
    );
    expect((await stepStates(db, run.run_id)).each).toMatchObject({ status: 'completed', remaining_tasks: 0 });
    expect((await tasksOf(run.run_id, 'after')).length).toBe(1);
    const [after] = await drain(db, flow);
    expect(after!.input).toEqual({ run: Array.from({ length: 64 }, (_, i) => i), each: Array.from({ length: 64 }, (_, i) => i * 10) });
  });

  it('a task whose worker went silent starts again after timeout + 2 s as a new attempt; its sibling tasks are not touched', async () => {
    const flow = await defineFlow(db, uniqueSlug('map_silent'), { timeout: 1, steps: [{ slug: 'each', stepType: 'map', maxAttempts: 2 }] });
    const run = await startFlow(db, flow, ['x', 'y']);
    const started = await startTasks(db, flow, (await readMessages(db, flow, 30, 2)).map((message) => message.msg_id), newWorkerId());
    expect(started).toHaveLength(2);
    await completeTask(db, run.run_id, 'each', 'y done', 1);
    await sleep(3_200);
    const again = await drain(db, flow, (task) => `${task.input as string} again`);
    expect(again.map((task) => [task.task_index, task.attempts_count])).toEqual([[0, 2]]);
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { each: ['x again', 'y done'] } });
  });
});
